"""The base-model registry."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from backend.models.registry import ModelSource
from backend.schemas.common import OwnedRead


class ModelCreate(BaseModel):
    name: str = Field(..., min_length=1, max_length=200)
    path: str = Field(
        ...,
        min_length=1,
        max_length=1024,
        description="A local Hugging Face model folder "
        "(config.json, weights, tokenizer) visible to the API and the workers.",
    )


class ModelRead(OwnedRead):
    id: int
    name: str
    source: ModelSource
    path: str = Field(
        description="The model folder as this API server sees it (stored relative to its data)."
    )
    architecture: str | None
    num_parameters: int | None
    parent_model_id: int | None
    job_id: int | None
    is_adapter: bool
    created_at: datetime
