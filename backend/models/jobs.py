"""Jobs (the source of truth for training and evaluation work): events, metrics, checkpoints, workers."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Enum, Float, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import NEVER_REUSE_IDS, Base, utcnow
from backend.models.ownership import Visibility, visibility_column


class JobStatus(enum.StrEnum):
    """queued -> running -> succeeded | failed | cancelled, with paused aside (a spec is validated before
    the job is stored, so a job starts queued)."""

    queued = "queued"
    running = "running"
    paused = "paused"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, native_enum=False, length=16), default=JobStatus.queued, index=True
    )
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    base_model_id: Mapped[int] = mapped_column(ForeignKey("base_models.id"))
    # Start from a previous job's output (SFT -> reward model -> RLHF is one chain).
    parent_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    # [{"version_id": 3, "weight": 1.0}, ...]: the exact dataset versions trained on (a mixture when several).
    datasets: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    eval_dataset_version_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_versions.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Who may act on the job (its creator, unless an admin hands it on); its output models inherit both.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    visibility: Mapped[Visibility] = visibility_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    worker_id: Mapped[str | None] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    pause_requested: Mapped[bool] = mapped_column(default=False)
    current_step: Mapped[int] = mapped_column(default=0)
    total_steps: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    # Relative to the artifact store: this job's output folder (checkpoints/, final/).
    output_path: Mapped[str | None] = mapped_column(String(1024))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    memory_estimate: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    events: Mapped[list[JobEvent]] = relationship(cascade="all, delete-orphan", order_by="JobEvent.id")

    @property
    def progress(self) -> float:
        if not self.total_steps:
            return 1.0 if self.status == JobStatus.succeeded else 0.0
        return min(1.0, self.current_step / self.total_steps)


class JobEvent(Base):
    __tablename__ = "job_events"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    level: Mapped[str] = mapped_column(String(16), default="info")
    message: Mapped[str] = mapped_column(Text)


class JobMetric(Base):
    __tablename__ = "job_metrics"
    __table_args__ = (Index("ix_job_metrics_job_name_step", "job_id", "name", "step"), NEVER_REUSE_IDS)

    # BIGINT on Postgres (metrics grow fast); INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    step: Mapped[int]
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Checkpoint(Base):
    __tablename__ = "checkpoints"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    step: Mapped[int]
    path: Mapped[str] = mapped_column(String(1024))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Worker(Base):
    """A live worker process: what device it has, so the API can refuse jobs that cannot run anywhere."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    queues: Mapped[str] = mapped_column(String(200))
    device: Mapped[str] = mapped_column(String(32))
    device_name: Mapped[str] = mapped_column(String(200), default="")
    memory_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: native bf16 (CPU: AVX512-BF16/AMX; GPU: torch.cuda.is_bf16_supported), what precision auto resolves by
    bf16: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: measured peak matmul FLOP/s by precision ({"fp32": ..., "bf16": ...}): the denominator of MFU
    peak_flops: Mapped[dict[str, float] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
