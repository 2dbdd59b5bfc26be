"""Answer one inference request (generation, template preview, dataset profile) and store the result."""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path

from sqlalchemy import update

from backend import storage
from backend.config import Settings
from backend.db import session_scope, utcnow
from backend.models.inference import InferenceRequest, InferenceStatus
from backend.services import datasets
from worker.device import detect_device
from worker.inference import chat, dataset_views
from worker.inference.engine import GenerationEngine

log = logging.getLogger(__name__)
_engine: GenerationEngine | None = None


def engine(settings: Settings) -> GenerationEngine:
    global _engine
    if _engine is None:
        _engine = GenerationEngine(device=detect_device(settings.worker_device)["device"])
    return _engine


def _local(payload: dict, settings: Settings) -> dict:
    """The payload with its stored paths (backend.storage) resolved against this worker's data folder."""
    local = dict(payload)
    for key in ("rows_path", "tokenizer_path"):
        if key in local:
            local[key] = str(storage.resolve(settings, local[key]))
    if "models" in local:
        local["models"] = [
            {
                **m,
                "path": str(storage.resolve(settings, m["path"])),
                "base_path": str(storage.resolve(settings, m["base_path"])),
            }
            for m in local["models"]
        ]
    return local


def _generate(payload: dict, settings: Settings) -> dict:
    messages = [m for m in payload.get("messages") or [] if m]
    if payload.get("prompt") is not None:
        messages = [{"role": "user", "content": payload["prompt"]}]
    if payload.get("system_prompt"):
        messages = [{"role": "system", "content": payload["system_prompt"]}, *messages]
    outputs = []
    for model in _local(payload, settings)["models"]:
        started = time.perf_counter()
        answer = engine(settings).generate(model, messages, payload, payload.get("chat_template", "model"))
        answer["seconds"] = round(time.perf_counter() - started, 3)
        outputs.append(answer)
    return {"outputs": outputs}


def views_cache(settings: Settings) -> Path:
    """Where dataset views keep the Arrow copies of the versions they read (one per version file)."""
    return settings.home / "cache" / "datasets"


def _profile(payload: dict, settings: Settings) -> dict:
    result = dataset_views.profile(_local(payload, settings), cache_dir=views_cache(settings))
    result["tokenizer"] = payload["tokenizer_path"]  # stored as the request named it, not this worker's path
    with session_scope(settings.database_url) as session:
        datasets.save_profile(session, payload["version_id"], result)
    return result


HANDLERS = {
    "generate": _generate,
    "preview": lambda payload, settings: dataset_views.template_preview(
        _local(payload, settings), cache_dir=views_cache(settings)
    ),
    "profile": _profile,
    "chat": lambda payload, settings: chat.complete(engine(settings), _local(payload, settings), settings),
}


def execute_inference_request(request_id: int, *, settings: Settings) -> None:
    with session_scope(settings.database_url) as session:
        claimed = session.execute(
            update(InferenceRequest)
            .where(InferenceRequest.id == request_id, InferenceRequest.status == InferenceStatus.queued)
            .values(status=InferenceStatus.running)
        ).rowcount
        request = session.get(InferenceRequest, request_id) if claimed else None
        kind, payload = (request.kind, request.payload) if request else (None, None)
    if not claimed:
        return
    try:
        result, error, status = HANDLERS[kind](payload, settings), None, InferenceStatus.succeeded
    except Exception as exc:  # noqa: BLE001 - a bad request must not kill the inference worker
        log.error("inference request %s failed:\n%s", request_id, traceback.format_exc())
        result, error, status = None, f"{type(exc).__name__}: {exc}", InferenceStatus.failed
    with session_scope(settings.database_url) as session:
        session.execute(
            update(InferenceRequest)
            .where(InferenceRequest.id == request_id)
            .values(status=status, result=result, error=error, finished_at=utcnow())
        )
