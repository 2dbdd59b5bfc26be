"""Answer one inference request (generation, template preview, dataset profile, reward scores of a labeling
campaign's candidates) and store the result."""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path

from backend import storage
from backend.config import Settings
from backend.db import session_scope
from backend.models.inference import InferenceStatus
from backend.services import datasets, inference, labeling_rm
from worker.device import detect_device
from worker.evaluation.reward_accuracy import CandidateScorer
from worker.inference import chat, dataset_views
from worker.inference.engine import GenerationEngine

log = logging.getLogger(__name__)
#: items scored (and their scores committed) at a time, so the campaign shows progress while it runs
SCORE_CHUNK = 32
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


def _reward_scores(payload: dict, settings: Settings) -> dict:
    """Score every written candidate of a campaign with its reward model; scores are stored chunk by chunk
    and the run stops early when the campaign's reward model was changed meanwhile."""
    campaign_id, job_id = payload["campaign_id"], payload["reward_job_id"]
    with session_scope(settings.database_url) as session:
        items = labeling_rm.items_to_score(session, campaign_id)
    scorer = CandidateScorer(
        str(storage.resolve(settings, payload["model_path"])),
        chat_template=payload.get("chat_template", "model"),
        device=detect_device(settings.worker_device)["device"],
    )
    scored = 0
    for start in range(0, len(items), SCORE_CHUNK):
        chunk = items[start : start + SCORE_CHUNK]
        scores = scorer.score([(prompt, [text for _, text in candidates]) for prompt, candidates in chunk])
        values = {
            candidate_id: score
            for (_, candidates), row in zip(chunk, scores, strict=True)
            for (candidate_id, _), score in zip(candidates, row, strict=True)
        }
        with session_scope(settings.database_url) as session:
            if not labeling_rm.store_scores(session, campaign_id, job_id, values):
                return {"scored": scored, "items": len(items), "superseded": True}
        scored += len(values)
    return {"scored": scored, "items": len(items), "superseded": False}


HANDLERS = {
    "generate": _generate,
    "preview": lambda payload, settings: dataset_views.template_preview(
        _local(payload, settings), cache_dir=views_cache(settings)
    ),
    "profile": _profile,
    labeling_rm.SCORE_KIND: _reward_scores,
    "chat": lambda payload, settings: chat.complete(engine(settings), _local(payload, settings), settings),
}


def execute_inference_request(request_id: int, *, settings: Settings) -> None:
    with session_scope(settings.database_url) as session:
        request = inference.claim_request(session, request_id)
        kind, payload = (request.kind, request.payload) if request else (None, None)
    if request is None:
        return
    try:
        result, error, status = HANDLERS[kind](payload, settings), None, InferenceStatus.succeeded
    except Exception as exc:  # noqa: BLE001 - a bad request must not kill the inference worker
        log.error("inference request %s failed:\n%s", request_id, traceback.format_exc())
        result, error, status = None, f"{type(exc).__name__}: {exc}", InferenceStatus.failed
    with session_scope(settings.database_url) as session:
        inference.finish_request(session, request_id, status, result=result, error=error)
