"""Jobs: create, read, page, and their metrics, events and checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from backend.models.jobs import JobStatus
from backend.schemas.common import OwnedRead, ReadModel
from backend.schemas.job_specs import JobSpec


class DatasetRef(BaseModel):
    version_id: int = Field(..., ge=1, description="A dataset version id (jobs record the exact version).")
    weight: float = Field(
        1.0,
        gt=0.0,
        le=1000.0,
        description="Mixture weight: share of training rows drawn from this dataset relative to the others.",
    )


class JobCreate(BaseModel):
    name: str | None = Field(None, max_length=200)
    base_model_id: int | None = Field(None, ge=1, description="Registry id of the model to start from.")
    parent_job_id: int | None = Field(None, ge=1, description="Or: start from a succeeded job's output.")
    datasets: list[DatasetRef] = Field(..., min_length=1, max_length=32)
    eval_dataset_version_id: int | None = Field(
        None,
        ge=1,
        description="Validation set (default: a split of "
        "the training rows when training.validation_split > 0).",
    )
    spec: JobSpec

    @model_validator(mode="after")
    def _one_start(self) -> JobCreate:
        if (self.base_model_id is None) == (self.parent_job_id is None):
            raise ValueError("give exactly one of 'base_model_id' or 'parent_job_id'")
        return self


class JobRead(OwnedRead):
    id: int
    name: str
    method: str
    status: JobStatus
    spec: dict[str, Any]
    base_model_id: int
    parent_job_id: int | None
    datasets: list[dict[str, Any]]
    eval_dataset_version_id: int | None
    created_at: datetime
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    attempt: int
    current_step: int
    total_steps: int | None
    progress: float
    error: str | None
    result: dict[str, Any] | None
    memory_estimate: dict[str, Any] | None
    output_model_id: int | None = None
    queue_position: int | None = Field(
        None, description="Place in the line of queued jobs (1 = runs next); null when not queued."
    )
    created_by: int | None = Field(None, description="Id of the user who created the job.")
    owner: str | None = Field(None, description="Username of the job's owner.")


class JobDetail(JobRead):
    metrics: dict[str, list[tuple[int, float]]] = Field(
        default_factory=dict, description="Each metric's points as (step, value), e.g. the loss curve."
    )


class JobsPage(BaseModel):
    items: list[JobRead]
    total: int


class JobEventRead(ReadModel):
    id: int
    created_at: datetime
    level: str
    message: str


class CheckpointRead(ReadModel):
    id: int
    step: int
    path: str
    metrics: dict[str, Any]
    created_at: datetime
