"""Requests answered by an inference worker: generation (base vs tuned), template preview, dataset profile."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db import get_sessionmaker, utcnow
from backend.models.inference import InferenceRequest, InferenceStatus
from backend.models.users import User
from backend.queue import RUN_INFERENCE_TASK, enqueue
from backend.schemas.inference import GenerationCreate, InferenceRead
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


def claim_request(session: Session, request_id: int) -> InferenceRequest | None:
    """Mark a queued request running for this worker; None when another worker took it (or it is done)."""
    claimed = session.execute(
        update(InferenceRequest)
        .where(InferenceRequest.id == request_id, InferenceRequest.status == InferenceStatus.queued)
        .values(status=InferenceStatus.running)
    ).rowcount
    session.commit()
    return session.get(InferenceRequest, request_id) if claimed else None


def finish_request(
    session: Session, request_id: int, status: InferenceStatus, *, result: dict | None, error: str | None
) -> None:
    session.execute(
        update(InferenceRequest)
        .where(InferenceRequest.id == request_id)
        .values(status=status, result=result, error=error, finished_at=utcnow())
    )
    session.commit()


def publish_partial(session: Session, request_id: int, result: dict) -> None:
    """The text so far of a running request (streamed by the API); a finished request is left alone."""
    session.execute(
        update(InferenceRequest)
        .where(InferenceRequest.id == request_id, InferenceRequest.status == InferenceStatus.running)
        .values(result=result)
    )
    session.commit()


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


# How often a waiting caller re-reads the request row.
POLL_SECONDS = 0.2


async def wait_for(
    settings: Settings, request_id: int, wait: float, user: User | None = None
) -> InferenceRead:
    """Poll the request row until it is finished or `wait` seconds have passed (0 = read it once); 404 unless
    `user` owns it or is an admin (None: a request the caller has just made).

    Each read is its own short session in a worker thread, so a long wait holds neither a connection nor
    the event loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    maker = get_sessionmaker(settings.database_url)

    def load() -> InferenceRead:
        with maker() as session:
            return InferenceRead.model_validate(get_request(session, request_id, user))

    while True:
        read = await asyncio.to_thread(load)
        if read.status in (InferenceStatus.succeeded, InferenceStatus.failed) or loop.time() >= deadline:
            return read
        await asyncio.sleep(POLL_SECONDS)


async def submit_and_wait(
    settings: Settings, submit_in: Callable[[Session], InferenceRequest], wait: float
) -> InferenceRead:
    """Run `submit_in(session)` (one of the submit functions above, which commits) in a worker thread,
    then wait for the worker's answer."""

    def submit() -> int:
        with get_sessionmaker(settings.database_url)() as session:
            return submit_in(session).id

    return await wait_for(settings, await asyncio.to_thread(submit), wait)
