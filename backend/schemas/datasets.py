"""Datasets and versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from backend.schemas.common import OwnedRead, ReadModel
from backend.schemas.job_specs import ChatTemplate


class DatasetVersionRead(ReadModel):
    id: int
    dataset_id: int
    version: int
    parent_id: int | None
    operation: dict[str, Any]
    format: str
    split: str | None
    row_count: int
    size_bytes: int
    sha256: str
    report: dict[str, Any]
    profile: dict[str, Any] | None
    created_at: datetime


class DatasetRead(OwnedRead):
    id: int
    name: str
    description: str
    created_at: datetime
    archived_at: datetime | None = Field(None, description="When it was archived (hidden from listings).")
    versions: list[DatasetVersionRead]


class RowsPage(ReadModel):
    version_id: int
    offset: int
    total: int
    rows: list[dict[str, Any]]


class VersionOperation(BaseModel):
    """A cleaning or splitting step; it makes new immutable version(s) that name this one as parent."""

    op: Literal["dedup_exact", "dedup_near", "filter_length", "split"] = Field(
        ...,
        description="dedup_exact: drop exact repeats; dedup_near: drop rows whose MinHash Jaccard "
        "similarity to a kept row is >= threshold; filter_length: keep rows within [min_chars, max_chars]; "
        "split: seeded train/validation split (two new versions).",
    )
    threshold: float = Field(
        0.9, gt=0.0, le=1.0, description="dedup_near: similarity at which rows are dupes."
    )
    min_chars: int = Field(0, ge=0, description="filter_length: shortest row kept, in characters.")
    max_chars: int | None = Field(None, ge=1, description="filter_length: longest row kept, in characters.")
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0, description="split: share of rows for validation.")
    seed: int = Field(0, ge=0, description="split: seed of the shuffle.")


class TemplatePreviewCreate(BaseModel):
    model_id: int = Field(..., ge=1, description="Whose tokenizer (and own chat template) to use.")
    row: int = Field(0, ge=0, description="0-based row index in the version.")
    chat_template: ChatTemplate = "model"
    max_length: int = Field(1024, ge=16, le=131072)
    loss_on: Literal["assistant", "all"] = "assistant"
    system_prompt: str | None = None


class ProfileCreate(BaseModel):
    model_id: int = Field(..., ge=1, description="Whose tokenizer counts the tokens.")
    max_length: int = Field(1024, ge=16, le=131072, description="Rows over this many tokens are counted.")
    chat_template: ChatTemplate = "model"
