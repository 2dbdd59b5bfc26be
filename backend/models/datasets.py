"""Datasets and their immutable versions: each cleaning or split makes a new version that names its parent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import NEVER_REUSE_IDS, Base, utcnow
from backend.models.ownership import Visibility, visibility_column


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(String(2000), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    visibility: Mapped[Visibility] = visibility_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Archived datasets leave the default listings but stay readable by the jobs that trained on them.
    archived_at: Mapped[datetime | None]

    versions: Mapped[list[DatasetVersion]] = relationship(
        back_populates="dataset", order_by="DatasetVersion.version", cascade="all, delete-orphan"
    )


class DatasetVersion(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_versions.id"))
    # What made this version: {"op": "upload", "filename": ...} or {"op": "dedup_exact", "stats": ...}.
    operation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    format: Mapped[str] = mapped_column(String(32))
    # A named part of a split ("train" / "validation"), or None for a whole set.
    split: Mapped[str | None] = mapped_column(String(32))
    row_count: Mapped[int]
    size_bytes: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    # Relative to the artifact store root: the normalised JSONL rows.
    path: Mapped[str] = mapped_column(String(1024))
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="versions")
