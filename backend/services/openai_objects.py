"""Afina rows as OpenAI wire objects (files, fine-tuning jobs, events, checkpoints, models) and back.

Ids: a dataset version is `file-<version id>`, a job `ftjob-<job id>`, an event `ftevent-<id>`, a
checkpoint `ftckpt-<id>`; a tuned model is `ft:<base model>:<job name>:job-<job id>`, a base model its name.
Lists are OpenAI's cursor pages: newest first, `after` = the last id seen, `has_more` when more remain.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.models.datasets import DatasetVersion
from backend.models.jobs import Checkpoint, Job, JobEvent, JobStatus
from backend.models.registry import BaseModel
from backend.models.users import User
from backend.schemas.job_specs import parse_job_spec
from backend.services import access, jobs, registry
from backend.services.errors import Invalid, NotFound

ORGANIZATION = "afina"
_TUNED = re.compile(r"^ft:.*:job-(\d+)$")
_ID = re.compile(r"^(?P<prefix>[a-z]+)-(?P<number>\d{1,18})$")


def timestamp(value: datetime | None) -> int | None:
    """Unix seconds, as OpenAI sends times (stored times are UTC)."""
    if value is None:
        return None
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())


def parse_id(value: str, prefix: str, *, param: str) -> int:
    """The number of an id like `file-12`; 404 naming the parameter for anything else."""
    match = _ID.match(value or "")
    if not match or match["prefix"] != prefix or int(match["number"]) < 1:
        raise NotFound(
            f"no such {param.replace('_', ' ')} '{value}': ids look like '{prefix}-<number>'",
            code="not_found",
            details={"field": param, "value": value},
        )
    return int(match["number"])


def page(session: Session, query: Select, id_column, after: int | None, limit: int, to_object) -> dict:
    """One cursor page of `query` newest first: the rows with ids below `after`, `limit` of them at most."""
    if after is not None:
        query = query.where(id_column < after)
    rows = list(session.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    data = [to_object(row) for row in rows[:limit]]
    return {
        "object": "list",
        "data": data,
        "has_more": len(rows) > limit,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


# ---- files ----------------------------------------------------------------------------------------------


def file_name(version: DatasetVersion) -> str:
    name = version.dataset.name
    return name if version.version == 1 else f"{name} (version {version.version})"


def file_object(version: DatasetVersion) -> dict:
    return {
        "id": f"file-{version.id}",
        "object": "file",
        "bytes": version.size_bytes,
        "created_at": timestamp(version.created_at),
        "expires_at": None,
        "filename": file_name(version),
        "purpose": "fine-tune",
        "status": "processed",
        "status_details": None,
    }


# ---- models ---------------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[\s:]+", "-", text.strip()) or "job"


def tuned_model_id(session: Session, job: Job) -> str | None:
    """The readable id of a succeeded job's output model, or None while it has none."""
    output = jobs.output_model_id(job)
    if job.status != JobStatus.succeeded or not output:
        return None
    base = registry.root_model(session, registry.get_model(session, job.base_model_id))
    return f"ft:{base.name}:{_slug(job.name)}:job-{job.id}"


def model_object(session: Session, model: BaseModel) -> dict:
    job = session.get(Job, model.job_id) if model.job_id else None
    model_id = (tuned_model_id(session, job) if job else None) or model.name
    if job and jobs.output_model_id(job) != model.id:
        model_id = model.name  # a second output of a job (a merged copy) keeps its registry name
    return {
        "id": model_id,
        "object": "model",
        "created": timestamp(model.created_at),
        "owned_by": ORGANIZATION if job is None else f"job-{job.id}",
    }


def resolve_model(session: Session, name: str, user: User | None, *, param: str = "model") -> BaseModel:
    """The registry model a /v1 `model` names: `ft:...:job-<id>` for a tuned one, else a registry name; one
    the caller may not see does not exist for them."""
    match = _TUNED.match(name or "")
    if match:
        job = session.get(Job, int(match[1]))
        model_id = jobs.output_model_id(job) if job else None
        model = session.get(BaseModel, model_id) if model_id else None
        if (
            job is None
            or job.status != JobStatus.succeeded
            or model is None
            or not access.can_see(user, model)
        ):
            raise NotFound(
                f"the model '{name}' does not exist: job {match[1]} has no tuned model (yet)",
                code="model_not_found",
                details={"field": param, "value": name},
            )
        return model
    model = session.scalar(select(BaseModel).where(BaseModel.name == name))
    if model is None or not access.can_see(user, model):
        raise NotFound(
            f"the model '{name}' does not exist: list them with GET /v1/models",
            code="model_not_found",
            details={"field": param, "value": name},
        )
    return model


# ---- fine-tuning jobs -----------------------------------------------------------------------------------

STATUSES = {
    JobStatus.queued: "queued",
    JobStatus.running: "running",
    JobStatus.paused: "paused",
    JobStatus.succeeded: "succeeded",
    JobStatus.failed: "failed",
    JobStatus.cancelled: "cancelled",
}


def default_learning_rate(method: str, adapter_type: str) -> float | None:
    """The learning rate a job of `method` gets when none is given (None for methods /v1 does not create)."""
    if method not in ("sft", "dpo"):
        return None
    return parse_job_spec(method, {"adapter": {"type": adapter_type}}).training.learning_rate


def hyperparameters(job: Job) -> dict[str, Any]:
    training = job.spec.get("training", {})
    default = default_learning_rate(job.method, job.spec.get("adapter", {}).get("type", "lora"))
    rate = training.get("learning_rate")
    values = {
        "n_epochs": training.get("num_epochs"),
        "batch_size": training.get("batch_size"),
        "learning_rate_multiplier": round(rate / default, 6) if default and rate else None,
    }
    if job.method == "dpo":
        values["beta"] = job.spec.get("beta")
    return values


def job_object(session: Session, job: Job) -> dict:
    versions = [ref["version_id"] for ref in job.datasets]
    params = hyperparameters(job)
    method_type = "dpo" if job.method == "dpo" else "supervised"
    return {
        "id": f"ftjob-{job.id}",
        "object": "fine_tuning.job",
        "created_at": timestamp(job.created_at),
        "finished_at": timestamp(job.finished_at) if job.status.is_final else None,
        "error": {"code": "job_failed", "message": job.error, "param": None}
        if job.status == JobStatus.failed
        else None,
        "fine_tuned_model": tuned_model_id(session, job),
        "hyperparameters": {k: v for k, v in params.items() if k != "beta"},
        "method": {"type": method_type, method_type: {"hyperparameters": params}},
        "model": registry.root_model(session, registry.get_model(session, job.base_model_id)).name,
        "organization_id": ORGANIZATION,
        "result_files": [],
        "seed": job.spec.get("training", {}).get("seed"),
        "status": STATUSES[job.status],
        "trained_tokens": None,
        "training_file": f"file-{versions[0]}" if versions else None,
        "validation_file": f"file-{job.eval_dataset_version_id}" if job.eval_dataset_version_id else None,
        "user_provided_suffix": job.name,
        "estimated_finish": None,
        "integrations": [],
        "metadata": None,
        # Afina's own view of the same job (GET /api/jobs/<id>)
        "afina_job_id": job.id,
        "afina_method": job.method,
        "current_step": job.current_step,
        "total_steps": job.total_steps,
    }


def event_object(event: JobEvent) -> dict:
    return {
        "id": f"ftevent-{event.id}",
        "object": "fine_tuning.job.event",
        "created_at": timestamp(event.created_at),
        "level": event.level if event.level in ("info", "warn", "error") else "info",
        "message": event.message,
        "type": "message",
        "data": {},
    }


def checkpoint_object(session: Session, job: Job, checkpoint: Checkpoint) -> dict:
    base = tuned_model_id(session, job) or f"ft:job-{job.id}"
    return {
        "id": f"ftckpt-{checkpoint.id}",
        "object": "fine_tuning.job.checkpoint",
        "created_at": timestamp(checkpoint.created_at),
        "fine_tuned_model_checkpoint": f"{base}:ckpt-step-{checkpoint.step}",
        "fine_tuning_job_id": f"ftjob-{job.id}",
        "metrics": {"step": float(checkpoint.step), **_numbers(checkpoint.metrics)},
        "step_number": checkpoint.step,
    }


def _numbers(metrics: dict | None) -> dict[str, float]:
    return {k: float(v) for k, v in (metrics or {}).items() if isinstance(v, int | float)}


def invalid(message: str, param: str, value: Any = None, code: str = "invalid_value") -> Invalid:
    return Invalid(message, code=code, details={"field": param, "value": value})
