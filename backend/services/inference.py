"""Requests answered by an inference worker: generation (base vs tuned), template preview, dataset profile."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.config import Settings
from backend.models.inference import InferenceRequest
from backend.models.users import User
from backend.queue import RUN_INFERENCE_TASK, enqueue
from backend.schemas.inference import GenerationCreate
from backend.services import access, datasets, registry
from backend.services.errors import Invalid, NotFound


def submit(
    session: Session, settings: Settings, kind: str, payload: dict, user: User | None
) -> InferenceRequest:
    owner = user.id if user else None
    request = InferenceRequest(kind=kind, payload=payload, created_by=owner, owner_id=owner)
    session.add(request)
    session.commit()
    enqueue(settings, RUN_INFERENCE_TASK, request_id=request.id)
    return request


def submit_generation(session: Session, settings: Settings, data: GenerationCreate, user: User | None):
    """Check every model exists and `user` may see it, then queue the request (private to `user`)."""
    models = []
    for i, model_id in enumerate(data.model_ids):
        try:
            models.append(registry.get_model(session, model_id, user))
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


def get_request(session: Session, request_id: int, user: User | None = None) -> InferenceRequest:
    """A request (a generation's prompt and answers): its owner's and admins' only, 404 for anyone else."""
    return access.get_visible(session, InferenceRequest, request_id, user, what="inference request")


def submit_dataset_request(
    session: Session, settings: Settings, kind: str, version_id: int, params: dict, user: User | None
) -> InferenceRequest:
    """A template preview or a profile of a dataset version, with the tokenizer of `params['model_id']`."""
    version = datasets.get_version(session, version_id, user)
    model = registry.root_model(session, registry.get_model(session, params["model_id"], user))
    payload = {
        **params,
        "version_id": version.id,
        "format": version.format,
        # Stored paths (backend.storage): the worker resolves them against its own data folder.
        "rows_path": version.path,
        "tokenizer_path": model.path,
    }
    return submit(session, settings, kind, payload, user)
