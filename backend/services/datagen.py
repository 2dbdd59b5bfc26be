"""Data generation use cases: create a generation job (validated fully before anything is stored), read and
list them, and store what a run produced as new dataset versions with lineage. A generation run is a Job of
method "datagen", so the queue, workers, events, cancel and resume treat it like any other job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import ingest
from backend.config import Settings
from backend.db import utcnow
from backend.models.datasets import Dataset, DatasetVersion
from backend.models.jobs import Job, JobEvent, JobStatus
from backend.models.users import User
from backend.queue import RUN_JOB_TASK, enqueue
from backend.schemas.datagen import DatagenCreate
from backend.services import access, datasets, evaluations, registry
from backend.services.errors import Conflict, Invalid, NotFound

DATAGEN_METHOD = "datagen"
#: the source formats each kind reads: seed tasks for Self-Instruct, anything with a prompt for Constitutional
SOURCE_FORMATS = {
    "self_instruct": ("instruction",),
    "constitutional": ("chat", "preference", "prompt_only", "instruction", "unpaired_preference"),
}
#: the datasets each kind writes: name suffix -> format
OUTPUTS = {
    "self_instruct": {"": "instruction"},
    "constitutional": {"-sft": "chat", "-pairs": "preference"},
}


def _check_generator(session: Session, data: DatagenCreate, user: User | None) -> None:
    model = registry.get_model(session, data.generator.model_id, user, field="generator.model_id")
    architecture = model.architecture or ""
    causal = architecture.endswith("ForCausalLM") or model.is_adapter
    if not causal or evaluations.is_reward_model(session, model):
        raise Invalid(
            f"model {model.id} ({model.name}) is a {architecture or 'model'}, which does not generate text: "
            "pick a causal language model or an adapter on one",
            details={"field": "generator.model_id", "value": model.id},
        )


def _check_source(session: Session, data: DatagenCreate, user: User | None) -> DatasetVersion:
    version = datasets.get_version(session, data.source_version_id, user, field="source_version_id")
    wanted = SOURCE_FORMATS[data.kind]
    if version.format not in wanted:
        what = "seed tasks (instruction rows)" if data.kind == "self_instruct" else "prompts"
        raise Invalid(
            f"a {data.kind} run reads {what}: dataset version {version.id} is '{version.format}' data; "
            f"use a version in {', '.join(wanted)} format",
            details={"field": "source_version_id", "value": version.id},
        )
    if data.kind == "self_instruct" and version.row_count < 1:
        raise Invalid("the seed version has no rows", details={"field": "source_version_id"})
    return version


def output_names(data: DatagenCreate, job_id: int) -> dict[str, str]:
    """Dataset name per output suffix."""
    base = data.name or f"{data.kind}-job{job_id}"
    return {suffix: f"{base}{suffix}" for suffix in OUTPUTS[data.kind]}


def _check_names_free(session: Session, names: list[str]) -> None:
    taken = session.scalars(select(Dataset.name).where(Dataset.name.in_(names))).all()
    if taken:
        raise Conflict(
            f"a dataset named '{taken[0]}' already exists; choose another name for the generated data",
            code="dataset_exists",
            details={"field": "name", "value": taken[0]},
        )


def create_datagen(session: Session, settings: Settings, data: DatagenCreate, user: User | None) -> Job:
    """Validate, store as a queued job, commit, enqueue. Nothing is stored on refusal."""
    _check_generator(session, data, user)
    source = _check_source(session, data, user)
    if data.name and not data.preview:
        _check_names_free(session, list(output_names(data, 0).values()))
    model = registry.get_model(session, data.generator.model_id)
    label = "preview" if data.preview else data.kind
    job = Job(
        name=(data.name or f"{label}-{model.name}")[:200],
        method=DATAGEN_METHOD,
        status=JobStatus.queued,
        spec=data.model_dump(mode="json"),
        base_model_id=model.id,
        datasets=[{"version_id": source.id, "weight": 1.0}],
        created_by=user.id if user else None,
        owner_id=user.id if user else None,
        queued_at=utcnow(),
    )
    session.add(job)
    session.flush()
    what = "A preview of " if data.preview else ""
    session.add(
        JobEvent(job_id=job.id, message=f"{what}{data.kind} generation queued: {model.name} on {source.id}")
    )
    session.commit()
    enqueue(settings, RUN_JOB_TASK, job_id=job.id)
    return job


def get_datagen(session: Session, job_id: int, user: User | None) -> Job:
    job = session.get(Job, job_id)
    if job is None or job.method != DATAGEN_METHOD or not access.can_see(user, job):
        raise NotFound(f"generation run {job_id} not found", details={"field": "datagen_id", "value": job_id})
    return job


def list_datagen(session: Session, user: User | None, *, offset: int, limit: int) -> tuple[list[Job], int]:
    query = access.visible_to(select(Job).where(Job.method == DATAGEN_METHOD), user, Job)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    return list(session.scalars(query.order_by(Job.id.desc()).offset(offset).limit(limit))), total


@dataclass
class Output:
    """One generated dataset to store: its name suffix, format, raw rows file and counts."""

    suffix: str
    fmt: str
    rows_file: Path
    stats: dict


def store_outputs(session: Session, store, job_id: int, outputs: list[Output], lineage: dict) -> list[int]:
    """Validate each rows file exactly as an upload is validated, then store each as a new dataset (version 1,
    parent: the source version; `lineage` names the generator and prompt). All or nothing; commits."""
    job = session.get(Job, job_id)
    data = DatagenCreate.model_validate(job.spec)
    names = output_names(data, job_id)
    _check_names_free(session, list(names.values()))
    source = datasets.get_version(session, data.source_version_id)
    owner = job.owner_id
    created: list[DatasetVersion] = []
    temps: list[Path] = []
    try:
        for out in outputs:
            normalised = store.new_temp(".jsonl")
            temps.append(normalised)
            report = ingest.ingest_file(
                out.rows_file, normalised, filename=f"{names[out.suffix]}.jsonl", format=out.fmt
            )
            dataset = Dataset(
                name=names[out.suffix],
                description=f"Generated by job {job_id} ({data.kind}) from dataset version {source.id}",
                owner_id=owner,
                visibility=job.visibility,  # the generated data is shared as its run is
            )
            session.add(dataset)
            session.flush()
            operation = {"op": "datagen", "kind": data.kind, "job_id": job_id, **lineage, "stats": out.stats}
            operation["source_version_id"] = source.id
            created.append(
                datasets.add_version(
                    session,
                    store,
                    dataset,
                    normalised,
                    report,
                    operation=operation,
                    parent=source,
                    fmt=out.fmt,
                )
            )
        session.commit()
    except Exception:
        session.rollback()
        for version in created:
            store.delete(version.path)
        raise
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)
    return [v.id for v in created]
