"""The base-model registry."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from backend.api.deps import Admin, Engineer, ResourceId, SessionDep, SettingsDep
from backend.schemas.models import ModelCreate, ModelRead
from backend.services import registry

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=list[ModelRead])
def list_models(_: Engineer, session: SessionDep, settings: SettingsDep):
    return [registry.model_read(settings, m) for m in registry.list_models(session)]


@router.post("", response_model=ModelRead, status_code=201)
def register_model(body: ModelCreate, _: Admin, session: SessionDep, settings: SettingsDep):
    """Register a local Hugging Face model folder (it must be readable by the workers too). Admins only: the
    answer tells whether a server path exists and what it holds, which engineers must not learn."""
    model = registry.register_model(session, body.name, Path(body.path), settings=settings)
    return registry.model_read(settings, model)


@router.get("/{model_id}", response_model=ModelRead)
def get_model(model_id: ResourceId, _: Engineer, session: SessionDep, settings: SettingsDep):
    return registry.model_read(settings, registry.get_model(session, model_id))
