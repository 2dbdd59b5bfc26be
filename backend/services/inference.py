"""Requests answered by an inference worker: generation (base vs tuned), template preview, dataset profile."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.config import Settings
from backend.models.inference import InferenceRequest
from backend.models.users import User
from backend.queue import RUN_INFERENCE_TASK, enqueue
from backend.schemas.inference import GenerationCreate
from backend.services import datasets, registry
from backend.services.errors import Invalid, NotFound


def submit(
    session: Session, settings: Settings, kind: str, payload: dict, user: User | None
) -> InferenceRequest:
    request = InferenceRequest(kind=kind, payload=payload, created_by=user.id if user else None)
    session.add(request)
    session.commit()
    enqueue(settings, RUN_INFERENCE_TASK, request_id=request.id)
    return request


def submit_generation(session: Session, settings: Settings, data: GenerationCreate, user: User | None):
    """Check every model exists and that adapters are given with a base they fit, then queue the request."""
    models = []
    for i, model_id in enumerate(data.model_ids):
        try:
            models.append(registry.get_model(session, model_id))
        except NotFound as exc:
            raise Invalid(exc.message, details={"field": f"model_ids[{i}]", "value": model_id}) from exc
    payload = data.model_dump(mode="json")
    # Stored paths (backend.storage): the worker resolves them against its own data folder.
    payload["models"] = [
        {
            "id": m.id,
            "name": m.name,
            "path": m.path,
            "is_adapter": m.is_adapter,
            "base_path": registry.root_model(session, m).path,
        }
        for m in models
    ]
    return submit(session, settings, "generate", payload, user)


def get_request(session: Session, request_id: int) -> InferenceRequest:
    request = session.get(InferenceRequest, request_id)
    if request is None:
        raise NotFound(f"inference request {request_id} not found")
    return request


def submit_dataset_request(
    session: Session, settings: Settings, kind: str, version_id: int, params: dict, user: User | None
) -> InferenceRequest:
    """A template preview or a profile of a dataset version, with the tokenizer of `params['model_id']`."""
    version = datasets.get_version(session, version_id)
    model = registry.root_model(session, registry.get_model(session, params["model_id"]))
    payload = {
        **params,
        "version_id": version.id,
        "format": version.format,
        # Stored paths (backend.storage): the worker resolves them against its own data folder.
        "rows_path": version.path,
        "tokenizer_path": model.path,
    }
    return submit(session, settings, kind, payload, user)
