"""OpenAI-compatible models (/v1/models): base models by name, each tuned model as `ft:...:job-<id>`."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import Engineer, SessionDep
from backend.services import openai_objects as objects
from backend.services import registry

router = APIRouter(prefix="/models", tags=["openai"])


@router.get("")
def list_models(user: Engineer, session: SessionDep):
    return {
        "object": "list",
        "data": [objects.model_object(session, m) for m in registry.list_models(session, user)],
    }


@router.get("/{model:path}")
def retrieve_model(model: str, user: Engineer, session: SessionDep):
    return objects.model_object(session, objects.resolve_model(session, model, user))
