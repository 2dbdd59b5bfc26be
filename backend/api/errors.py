"""Every way a request can go wrong ends in a JSON 4xx of one shape (`ErrorDetail`), never a 500.

- Service errors and validation errors have their handlers in backend/app.py.
- `StrictJSONBody` refuses, before any route sees them, JSON bodies that Python's `json` accepts but JSON does
  not: `NaN`, `Infinity`, numbers too large for a float, and nesting deeper than `MAX_JSON_DEPTH`; and bodies
  over `MAX_JSON_BYTES` (413).
- Numbers too large for the database (an id of 99999999999999999999 on SQLite or PostgreSQL) are a 422;
  a database constraint the request breaks is a 409 (a safety net: services check first and say more).
- Starlette's own HTTP errors (unknown route, unparseable body) get the same shape as ours.

The handlers are installed on the app, not on a route, so routes added later are covered too.
"""

from __future__ import annotations

import json
import math
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.openai_errors import is_openai_path, to_openai
from backend.schemas.common import ErrorDetail
from backend.services.errors import Conflict, Invalid, ServiceError

# Deep enough for every body the API takes (a job spec nests four levels), shallow enough that nothing
# downstream (validation, the JSON column, the answer) recurses without bound.
MAX_JSON_DEPTH = 32
# JSON bodies are specs and prompts; data arrives as uploaded files, which have limits of their own.
MAX_JSON_BYTES = 16 * 1024 * 1024
# A 64-bit signed integer: the widest id or count any supported database stores.
MAX_INT = 2**63 - 1

# Documented on every route, so clients (and schemathesis) know each 4xx and its body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorDetail, "description": HTTPStatus(status).phrase}
    for status in (400, 401, 403, 404, 409, 413, 422, 429)
}


def loads_strict(text: str | bytes, *, field: str = "body") -> Any:
    """json.loads that refuses what JSON itself does not allow. Raises `Invalid` naming `field`."""

    def refuse_constant(name: str):
        raise Invalid(
            f"{field}: {name} is not a JSON number; send a finite number",
            details={"field": field, "value": name},
        )

    def finite_float(literal: str) -> float:
        value = float(literal)
        if math.isinf(value):
            raise Invalid(
                f"{field}: the number {literal[:40]} is too large",
                details={"field": field, "value": literal[:40]},
            )
        return value

    try:
        value = json.loads(text, parse_constant=refuse_constant, parse_float=finite_float)
    except RecursionError as exc:
        raise _too_deep(field) from exc
    if _depth(value) > MAX_JSON_DEPTH:
        raise _too_deep(field)
    return value


class _BodyTooLarge(ServiceError):
    status, code = 413, "too_large"


def _too_large() -> ServiceError:
    return _BodyTooLarge(
        f"the JSON body is larger than {MAX_JSON_BYTES} bytes; upload data as a file instead",
        details={"field": "body", "limit": MAX_JSON_BYTES},
    )


def _too_deep(field: str) -> Invalid:
    return Invalid(
        f"{field}: JSON nested deeper than {MAX_JSON_DEPTH} levels",
        details={"field": field, "limit": MAX_JSON_DEPTH},
        code="too_deep",
    )


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def error_response(exc: ServiceError) -> JSONResponse:
    return JSONResponse(
        {"code": exc.code, "message": exc.message, "details": exc.details}, status_code=exc.status
    )


def _is_json_request(scope: Scope) -> bool:
    """A request to the REST API whose body FastAPI would parse as JSON (content type JSON or missing).

    Apps mounted beside the API (the Gradio UI at /ui) keep their own rules."""
    if scope["method"] in ("GET", "HEAD", "OPTIONS") or not scope["path"].startswith(("/api/", "/v1/")):
        return False
    headers = dict(scope["headers"])
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return not content_type or content_type == b"application/json" or content_type.endswith(b"+json")


def _refusal(scope: Scope, exc: ServiceError) -> JSONResponse:
    """The middleware's refusal in the shape of the surface asked: OpenAI's under /v1 (422 -> 400)."""
    response = error_response(exc)
    return to_openai(response) if is_openai_path(scope["path"]) else response


class StrictJSONBody:
    """ASGI middleware: a JSON body is checked with `loads_strict` and refused with a 422 before routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json_request(scope):
            await self.app(scope, receive, send)
            return
        chunks, size, message = [], 0, {"more_body": True}
        while message.get("more_body", False):
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_JSON_BYTES:
                await _refusal(scope, _too_large())(scope, receive, send)
                return
        body = b"".join(chunks)
        try:
            if body.strip():
                loads_strict(body)
        except Invalid as exc:
            await _refusal(scope, exc)(scope, receive, send)
            return
        except ValueError:
            pass  # not JSON at all: FastAPI answers that with its own 422

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _out_of_range(_: Request, exc: OverflowError) -> JSONResponse:
    # SQLite raises OverflowError for integers beyond 64 bits.
    return error_response(
        Invalid(f"a number in the request is out of range (at most {MAX_INT})", code="out_of_range")
    )


async def _data_error(_: Request, exc: DataError) -> JSONResponse:
    # PostgreSQL refuses a value its column cannot hold ("integer out of range", "value too long").
    reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
    return error_response(Invalid(f"a value in the request cannot be stored: {reason}", code="invalid_value"))


async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    try:
        code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
    except ValueError:
        code = "error"
    return JSONResponse(
        {"code": code, "message": str(exc.detail), "details": None},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
    # A constraint the request breaks (a name taken meanwhile, a row others still refer to): the state of the
    # stored data does not allow it, which is a 409, as a service's own check would have answered.
    reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
    return error_response(Conflict(f"the request conflicts with stored data: {reason}", code="conflict"))


def install_guards(app: FastAPI) -> None:
    """Install the handlers and the JSON guard on `app`."""
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(StrictJSONBody)
