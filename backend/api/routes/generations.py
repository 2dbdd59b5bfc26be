"""Generation: one prompt, answered by a base model and its tuned adapters side by side (on a worker)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from backend.api.deps import Engineer, ResourceId, SettingsDep
from backend.db import get_sessionmaker
from backend.models.inference import InferenceStatus
from backend.schemas.inference import GenerationCreate, InferenceRead
from backend.services import inference

router = APIRouter(tags=["generation"])

WAIT = Query(
    0.0, ge=0.0, le=600.0, description="Seconds to wait for the answer before returning (0 = at once)."
)


async def wait_for(settings, request_id: int, wait: float, user=None) -> InferenceRead:
    """Poll the request row until it is finished or `wait` seconds have passed (404 unless `user` owns it or
    is an admin; None: a request the caller has just made)."""
    deadline = asyncio.get_running_loop().time() + wait
    maker = get_sessionmaker(settings.database_url)

    def load():
        with maker() as session:
            return InferenceRead.model_validate(inference.get_request(session, request_id, user))

    while True:
        read = await run_in_threadpool(load)
        if read.status in (InferenceStatus.succeeded, InferenceStatus.failed):
            return read
        if asyncio.get_running_loop().time() >= deadline:
            return read
        await asyncio.sleep(0.2)


async def submit_and_wait(
    settings, user, kind: str, version_id: int, params: dict, wait: float
) -> InferenceRead:
    """Queue a dataset request (template preview or profile) for a worker and wait for its answer."""

    def submit():
        with get_sessionmaker(settings.database_url)() as session:
            return inference.submit_dataset_request(session, settings, kind, version_id, params, user).id

    return await wait_for(settings, await run_in_threadpool(submit), wait)


@router.post("/generations", response_model=InferenceRead, status_code=202)
async def create_generation(
    body: GenerationCreate, user: Engineer, settings: SettingsDep, wait: float = WAIT
):
    def submit():
        with get_sessionmaker(settings.database_url)() as session:
            return inference.submit_generation(session, settings, body, user).id

    return await wait_for(settings, await run_in_threadpool(submit), wait)


@router.get("/generations/{request_id}", response_model=InferenceRead)
async def get_generation(request_id: ResourceId, user: Engineer, settings: SettingsDep, wait: float = WAIT):
    """A generation (or dataset request) you made; its prompt is private to you (and admins)."""
    return await wait_for(settings, request_id, wait, user)
