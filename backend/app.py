"""create_app(settings) -> FastAPI: the REST API. The UI is mounted beside it by the CLI, not here."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse

from backend.api.routes import auth, datasets, generations, health, jobs, labeling, models
from backend.config import Settings, get_settings
from backend.services.errors import ServiceError


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form")]
    return ".".join(parts) or "request"


async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
    return JSONResponse(
        {"code": exc.code, "message": exc.message, "details": exc.details}, status_code=exc.status
    )


def _jsonable(value):
    """The offending input as JSON; anything that is not (raw bytes, say) as its repr."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return repr(value)[:200]


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"field": _where(e["loc"]), "message": e["msg"], "value": _jsonable(e.get("input"))}
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
    )
    app.state.settings = settings
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for router in (
        health.router,
        auth.router,
        models.router,
        datasets.router,
        jobs.router,
        generations.router,
        labeling.router,
    ):
        app.include_router(router, prefix="/api")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    return app
