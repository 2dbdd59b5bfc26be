"""OpenAI fine-tuning requests mapped onto Afina jobs: create (supervised -> SFT, dpo -> DPO), list, events,
checkpoints. A job made here is an ordinary Afina job (GET /api/jobs shows it); cancel, pause and resume are
the job service's own."""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.models.datasets import DatasetVersion
from backend.models.jobs import Checkpoint, Job, JobEvent
from backend.models.users import User
from backend.schemas.jobs import JobCreate
from backend.schemas.openai import DPOHyperparameters, FineTuningJobCreate, Hyperparameters
from backend.services import access, jobs
from backend.services import openai_objects as objects
from backend.services.errors import Invalid, NotFound


def _version(session: Session, file_id: str, param: str, user: User | None) -> DatasetVersion:
    try:
        version = session.get(DatasetVersion, objects.parse_id(file_id, "file", param=param))
    except NotFound as exc:
        raise objects.invalid(exc.message, param, file_id, code="invalid_file") from exc
    if version is None or not access.can_see(user, version.dataset):
        raise objects.invalid(f"{param} '{file_id}' does not exist: upload it first", param, file_id)
    return version


def _method(body: FineTuningJobCreate) -> tuple[str, Hyperparameters]:
    """Afina's method and the hyperparameters that apply (the method's own, else the top-level ones)."""
    kind = body.method.type if body.method else "supervised"
    own = getattr(body.method, kind, None) if body.method else None
    if own is not None and body.hyperparameters is not None:
        raise objects.invalid(
            f"give hyperparameters either at the top level or in method.{kind}, not both",
            "hyperparameters",
        )
    params = own.hyperparameters if own is not None else body.hyperparameters
    if params is None:
        params = DPOHyperparameters() if kind == "dpo" else Hyperparameters()
    return ("dpo" if kind == "dpo" else "sft"), params


def _spec(method: str, params: Hyperparameters, body: FineTuningJobCreate, rows: int) -> dict:
    training: dict = {}
    if params.n_epochs != "auto":
        training["num_epochs"] = float(params.n_epochs)
    if params.batch_size != "auto":
        training["batch_size"] = params.batch_size
        # a checkpoint at the end of every epoch, as OpenAI keeps them (the last three stay)
        training["save_steps"] = max(1, math.ceil(rows / params.batch_size))
    if body.seed is not None:
        training["seed"] = body.seed
    if params.learning_rate_multiplier != "auto":
        rate = objects.default_learning_rate(method, "lora") * params.learning_rate_multiplier
        if rate > 1.0:
            raise objects.invalid(
                f"learning_rate_multiplier {params.learning_rate_multiplier} makes a learning rate of "
                f"{rate:g}, above 1.0",
                "hyperparameters.learning_rate_multiplier",
                params.learning_rate_multiplier,
            )
        training["learning_rate"] = rate
    spec: dict = {"method": method, "adapter": {"type": "lora"}, "training": training}
    beta = getattr(params, "beta", "auto")
    if method == "dpo" and beta != "auto":
        spec["beta"] = beta
    return spec


def create(session: Session, settings: Settings, body: FineTuningJobCreate, user: User | None) -> Job:
    """Queue an Afina LoRA job for an OpenAI create request; refusals name the OpenAI parameter."""
    base = objects.resolve_model(session, body.model, user)
    train = _version(session, body.training_file, "training_file", user)
    validation = (
        _version(session, body.validation_file, "validation_file", user) if body.validation_file else None
    )
    method, params = _method(body)
    request = {
        "name": body.suffix,
        "datasets": [{"version_id": train.id}],
        "eval_dataset_version_id": validation.id if validation else None,
        "spec": _spec(method, params, body, train.row_count),
    }
    if base.job_id and base.is_adapter:
        request["parent_job_id"] = base.job_id  # continue from a tuned model, as OpenAI allows
    else:
        request["base_model_id"] = base.id
    try:
        data = JobCreate.model_validate(request)
    except ValueError as exc:
        raise Invalid(f"the job cannot be made: {exc}", code="invalid_value") from exc
    try:
        return jobs.create_job(session, settings, data, user)
    except Invalid as exc:
        raise _renamed(exc, train, validation) from exc


_FIELDS = {"datasets[0].version_id": "training_file", "eval_dataset_version_id": "validation_file"}


def _renamed(exc: Invalid, train: DatasetVersion, validation: DatasetVersion | None) -> Invalid:
    """The job service's refusal with its field named as the /v1 parameter (a version id as its file id)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    field = details.get("field")
    message = exc.message.replace(f"dataset version {train.id}", f"training_file 'file-{train.id}'")
    if validation is not None:
        message = message.replace(
            f"dataset version {validation.id}", f"validation_file 'file-{validation.id}'"
        )
    return Invalid(message, code=exc.code, details={**details, "field": _FIELDS.get(field, field)})


def get(session: Session, job_id: str, user: User | None) -> Job:
    return jobs.get_job(session, objects.parse_id(job_id, "ftjob", param="fine_tuning_job_id"), user)


def list_jobs(session: Session, user: User | None, after: str | None, limit: int) -> dict:
    cursor = objects.parse_id(after, "ftjob", param="after") if after else None
    query = access.visible_to(select(Job), user, Job)
    return objects.page(session, query, Job.id, cursor, limit, lambda job: objects.job_object(session, job))


def list_events(session: Session, job: Job, after: str | None, limit: int) -> dict:
    cursor = objects.parse_id(after, "ftevent", param="after") if after else None
    query = select(JobEvent).where(JobEvent.job_id == job.id)
    return objects.page(session, query, JobEvent.id, cursor, limit, objects.event_object)


def list_checkpoints(session: Session, job: Job, after: str | None, limit: int) -> dict:
    cursor = objects.parse_id(after, "ftckpt", param="after") if after else None
    query = select(Checkpoint).where(Checkpoint.job_id == job.id)
    return objects.page(
        session, query, Checkpoint.id, cursor, limit, lambda c: objects.checkpoint_object(session, job, c)
    )
