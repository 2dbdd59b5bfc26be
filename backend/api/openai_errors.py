"""OpenAI's error shape for the /v1 routes: `{"error": {"message", "type", "param", "code"}}`.

The app's handlers answer every refusal as `{"code", "message", "details"}`. `install_openai_errors`
wraps each installed handler so that, for a path under `/v1`, the same refusal is rewritten into the
shape the `openai` client reads. An input refused (422 elsewhere) is a 400 here, as OpenAI answers it,
so the client raises `BadRequestError`. Every handler installed before the call is covered.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from backend.schemas.openai import OpenAIError

OPENAI_PREFIX = "/v1"

#: HTTP status -> OpenAI's error type
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


#: documented on every /v1 route (an input refused is a 400 there, never a 422)
OPENAI_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIError, "description": description}
    for status, description in (
        ("4XX", "Refused, in OpenAI's error shape."),
        (400, "Invalid request: the message names the parameter (and a file's line and field)."),
        (401, "Missing or unknown API token."),
        (403, "The token's role may not do this."),
        (404, "No such file, job or model."),
        (409, "The job's or file's state does not allow it."),
        (413, "The upload passed a size limit."),
        (429, "Too many requests."),
    )
}


def is_openai_path(path: str) -> bool:
    return path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/")


#: parts of a validation error's location that name a union member's type, not a field
_TYPE_TAG = re.compile(r"[-\[\]']|^(str|int|float|bool|dict|list|none)$")


def _param(details: Any) -> str | None:
    """The field at fault, from the details of a service error or the first validation error (without the
    type tags pydantic adds inside unions, e.g. `n_epochs.constrained-int`)."""
    if isinstance(details, dict):
        field = details.get("field") or details.get("param")
        return str(field) if field is not None else None
    if isinstance(details, list) and details and isinstance(details[0], dict):
        field = details[0].get("field")
        if field is None:
            return None
        return ".".join(p for p in str(field).split(".") if not _TYPE_TAG.search(p)) or None
    return None


def openai_error(status: int, message: str, *, code: str | None = None, param: str | None = None) -> dict:
    return {
        "error": {
            "message": message,
            "type": ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error"),
            "param": param,
            "code": code,
        }
    }


def to_openai(response: Response) -> Response:
    """An Afina-shaped error answer rewritten in OpenAI's shape (headers such as Retry-After kept)."""
    try:
        body = json.loads(bytes(response.body))
    except (ValueError, AttributeError):
        return response
    if not isinstance(body, dict) or "message" not in body:
        return response
    status = 400 if response.status_code == 422 else response.status_code
    headers = {
        k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
    }
    content = openai_error(
        status, str(body["message"]), code=body.get("code"), param=_param(body.get("details"))
    )
    return JSONResponse(content, status_code=status, headers=headers)


def _wrap(handler):
    async def handle(request: Request, exc: Exception) -> Response:
        response = handler(request, exc)
        if hasattr(response, "__await__"):
            response = await response
        return to_openai(response) if is_openai_path(request.url.path) else response

    return handle


def install_openai_errors(app: FastAPI) -> None:
    """Wrap every exception handler installed so far; call it after the app's own handlers are added."""
    for key, handler in list(app.exception_handlers.items()):
        app.exception_handlers[key] = _wrap(handler)
