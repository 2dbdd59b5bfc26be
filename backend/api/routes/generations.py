"""Generation: one prompt, answered by a base model and its tuned adapters side by side (on a worker)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import WAIT, Engineer, ResourceId, SettingsDep
from backend.schemas.inference import GenerationCreate, InferenceRead
from backend.services import inference

router = APIRouter(tags=["generation"])


@router.post("/generations", response_model=InferenceRead, status_code=202)
async def create_generation(
    body: GenerationCreate, user: Engineer, settings: SettingsDep, wait: float = WAIT
):
    return await inference.submit_and_wait(
        settings, lambda session: inference.submit_generation(session, settings, body, user), wait
    )


@router.get("/generations/{request_id}", response_model=InferenceRead)
async def get_generation(request_id: ResourceId, user: Engineer, settings: SettingsDep, wait: float = WAIT):
    """A generation (or dataset request) you made; its prompt is private to you (and admins)."""
    return await inference.wait_for(settings, request_id, wait, user)
