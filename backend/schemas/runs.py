"""Run comparison: several jobs' curves, config differences and evaluations."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from backend.schemas.jobs import JobRead


class SettingDiff(BaseModel):
    setting: str  # a dotted path into the job's config, e.g. spec.training.learning_rate
    values: dict[int, Any]  # job id -> its value (null where the job has no such setting)


class RunEvaluation(BaseModel):
    evaluation_id: int
    evaluation: str
    job_id: int
    metric: str
    mean: float
    low: float
    high: float


class RunsComparison(BaseModel):
    jobs: list[JobRead]
    metrics: dict[int, dict[str, list[tuple[int, float]]]]
    config_diff: list[SettingDiff]
    evaluations: list[RunEvaluation]
