"""The base-model registry."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from backend.api.deps import Admin, Engineer, ResourceId, SessionDep, SettingsDep
from backend.schemas.common import VisibilityUpdate
from backend.schemas.models import ModelCreate, ModelRead
from backend.services import registry

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=list[ModelRead])
def list_models(user: Engineer, session: SessionDep, settings: SettingsDep):
    """Models you may use: base models (shared), your jobs' outputs and those shared with the studio."""
    return [registry.model_read(settings, m) for m in registry.list_models(session, user)]


@router.post("", response_model=ModelRead, status_code=201)
def register_model(body: ModelCreate, user: Admin, session: SessionDep, settings: SettingsDep):
    """Register a local Hugging Face model folder (it must be readable by the workers too). Admins only: the
    answer tells whether a server path exists and what it holds, which engineers must not learn. The model is
    shared with the studio; names ending in "(job N)" are kept for jobs' outputs."""
    model = registry.register_model(session, body.name, Path(body.path), settings=settings, owner_id=user.id)
    return registry.model_read(settings, model)


@router.get("/{model_id}", response_model=ModelRead)
def get_model(model_id: ResourceId, user: Engineer, session: SessionDep, settings: SettingsDep):
    return registry.model_read(settings, registry.get_model(session, model_id, user))


@router.patch("/{model_id}", response_model=ModelRead)
def update_model(
    model_id: ResourceId, body: VisibilityUpdate, user: Engineer, session: SessionDep, settings: SettingsDep
):
    """Share a model with the studio or make it private (its owner or an admin)."""
    return registry.model_read(settings, registry.set_visibility(session, model_id, user, body.visibility))
