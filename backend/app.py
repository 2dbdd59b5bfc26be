"""create_app(settings) -> FastAPI: the REST API. The UI is mounted beside it by the CLI, not here."""

from __future__ import annotations

import json
import reprlib

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse

from backend.api.body_limit import FORM_OVERHEAD, BodyLimit, BodyRule
from backend.api.errors import ERROR_RESPONSES, install_guards
from backend.api.openai_errors import OPENAI_ERROR_RESPONSES, OPENAI_PREFIX, install_openai_errors
from backend.api.routes import (
    arena,
    auth,
    datagen,
    datasets,
    evaluations,
    generations,
    health,
    jobs,
    labeling,
    models,
    openai_chat,
    openai_files,
    openai_fine_tuning,
    openai_models,
    runs,
    ui_session,
)
from backend.config import Settings, get_settings
from backend.schemas.common import ErrorDetail
from backend.services.errors import ServiceError


def _where(loc: tuple) -> str:
    # Drop the location ("body", "query", ...) only: a field may itself be called "path" or "query".
    if loc and loc[0] in ("body", "query", "path", "form", "header", "cookie"):
        loc = loc[1:]
    parts = [str(p) for p in loc]
    return ".".join(parts) or "request"


async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
    retry_after = getattr(exc, "retry_after", None)
    return JSONResponse(
        {"code": exc.code, "message": exc.message, "details": exc.details},
        status_code=exc.status,
        headers={"Retry-After": str(retry_after)} if retry_after else None,
    )


# Fields whose values a validation error never repeats back (nor anything nested under them).
SECRET_FIELDS = frozenset({"password", "token", "secret", "api_key", "authorization"})
REDACTED = "<redacted>"


def _redact(value, loc: tuple = (), depth: int = 0):
    """`value` with every secret field's value replaced (a missing-field error's input is the whole body,
    password included); below 20 levels nothing is repeated, so a deep input cannot exhaust the stack."""
    if any(str(part).lower() in SECRET_FIELDS for part in loc):
        return REDACTED
    if isinstance(value, dict | list | tuple) and depth >= 20:
        return "<nested too deeply to show>"
    if isinstance(value, dict):
        return {
            k: REDACTED if str(k).lower() in SECRET_FIELDS else _redact(v, depth=depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(v, depth=depth + 1) for v in value]
    return value


def _jsonable(value):
    """The offending input as JSON; anything that is not (raw bytes, say) as its repr."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return reprlib.repr(value)[:200]


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {
            "field": _where(e["loc"]),
            "message": e["msg"],
            "value": _jsonable(_redact(e.get("input"), e["loc"])),
        }
        for e in exc.errors()
    ]
    summary = "; ".join(
        f"{e['field']}: {e['message']}"
        + (
            f" (got {e['value']!r})"
            if not isinstance(e["value"], dict | list) and e["value"] is not None
            else ""
        )
        for e in errors
    )
    return JSONResponse({"code": "invalid", "message": summary, "details": errors}, status_code=422)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_dirs()
    app = FastAPI(
        title="Afina",
        version="0.1.0",
        description="Fine-tune, align and evaluate open language models. Every route needs a bearer token.",
        # The shape every refusal has (_service_error, _validation_error), instead of FastAPI's default 422.
        responses={"4XX": {"model": ErrorDetail, "description": "Refused: code, message and where."}},
    )
    app.state.settings = settings
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # the dataset upload's body is capped while it arrives (the file's own limits are checked as it is read)
    upload_rule = BodyRule(
        "POST", "/api/datasets", settings.max_upload_bytes + FORM_OVERHEAD, "AFINA_MAX_UPLOAD_BYTES"
    )
    openai_upload_rule = BodyRule(
        "POST", f"{OPENAI_PREFIX}/files", settings.max_upload_bytes + FORM_OVERHEAD, "AFINA_MAX_UPLOAD_BYTES"
    )
    app.add_middleware(BodyLimit, rules=[upload_rule, openai_upload_rule])
    install_guards(app)
    install_openai_errors(app)  # after every handler: /v1 answers refusals in OpenAI's error shape
    for router in (
        health.router,
        auth.router,
        models.router,
        datasets.router,
        jobs.router,
        generations.router,
        evaluations.router,
        datagen.router,
        runs.router,
        arena.router,
        ui_session.router,
        labeling.router,
    ):
        app.include_router(router, prefix="/api", responses=ERROR_RESPONSES)
    # The OpenAI-compatible surface: change an OpenAI client's base_url to <studio>/v1
    for router in (openai_files.router, openai_fine_tuning.router, openai_models.router, openai_chat.router):
        app.include_router(router, prefix=OPENAI_PREFIX, responses=OPENAI_ERROR_RESPONSES)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    return app
