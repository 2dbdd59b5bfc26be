"""Datasets and versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.schemas.common import ReadModel


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


class DatasetRead(ReadModel):
    id: int
    name: str
    description: str
    created_at: datetime
    versions: list[DatasetVersionRead]


class RowsPage(ReadModel):
    version_id: int
    offset: int
    total: int
    rows: list[dict[str, Any]]
