"""Job use cases for the API: create (validate everything first), read, list, cancel, pause, resume."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import psutil
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db import utcnow
from backend.models.datasets import DatasetVersion
from backend.models.jobs import Checkpoint, Job, JobEvent, JobMetric, JobStatus, Worker
from backend.models.ownership import Visibility
from backend.models.registry import BaseModel
from backend.models.users import User
from backend.queue import RUN_JOB_TASK, enqueue
from backend.schemas.job_specs import METHOD_FORMATS
from backend.schemas.jobs import JobCreate
from backend.services import access, evaluations, job_runtime, registry
from backend.services.errors import Conflict, Invalid
from backend.services.memory_estimate import estimate_training_memory


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    return f"{count:.1f} GiB"


def _output_model(session: Session, job: Job) -> BaseModel | None:
    model_id = (job.result or {}).get("output_model_id")
    return session.get(BaseModel, model_id) if model_id else None


def _resolve_start(session: Session, data: JobCreate, user: User | None) -> tuple[BaseModel, Job | None]:
    """The model a job starts from: a registered model or a finished job's output, visible to `user`."""
    if data.parent_job_id is None:
        return registry.get_model(session, data.base_model_id, user, field="base_model_id"), None
    parent = access.get_visible(session, Job, data.parent_job_id, user, what="job", field="parent_job_id")
    output = _output_model(session, parent)
    if parent.status != JobStatus.succeeded or output is None:
        raise Invalid(
            f"job {parent.id} is {parent.status.value} and has no output model to start from",
            details={"field": "parent_job_id", "value": parent.id},
        )
    return output, parent


def _check_datasets(session: Session, data: JobCreate, user: User | None) -> list[DatasetVersion]:
    method = data.spec.method
    allowed = METHOD_FORMATS[method]
    refs = [(f"datasets[{i}].version_id", ref.version_id) for i, ref in enumerate(data.datasets)]
    if data.eval_dataset_version_id:
        refs.append(("eval_dataset_version_id", data.eval_dataset_version_id))
    versions = []
    for field, version_id in refs:
        version = session.get(DatasetVersion, version_id)
        if version is None or not access.can_see(user, version.dataset):
            raise Invalid(
                f"dataset version {version_id} not found", details={"field": field, "value": version_id}
            )
        if version.dataset.archived_at is not None:
            raise Invalid(
                f"dataset '{version.dataset.name}' is archived: unarchive it to train on it",
                details={"field": field, "value": version_id},
            )
        if version.format not in allowed:
            raise Invalid(
                f"method '{method}' trains on {' or '.join(allowed)} data, but dataset version {version_id} "
                f"is '{version.format}'",
                details={"field": field, "value": version_id},
            )
        versions.append(version)
    return versions


def _check_rewards(session: Session, data: JobCreate, user: User | None) -> None:
    for i, reward in enumerate(getattr(data.spec, "rewards", None) or []):
        if reward.kind == "classifier":
            evaluations.check_classifier(
                session, f"spec.rewards[{i}]", reward.classifier_model_id, reward.label, user
            )
        if reward.kind != "model":
            continue
        job = session.get(Job, reward.reward_model_job_id)
        usable = job is not None and access.can_see(user, job)
        if not usable or job.method != "reward" or job.status != JobStatus.succeeded:
            raise Invalid(
                f"reward model job {reward.reward_model_job_id} is not a succeeded reward-model job",
                details={
                    "field": f"spec.rewards[{i}].reward_model_job_id",
                    "value": reward.reward_model_job_id,
                },
            )


def live_workers(session: Session, settings: Settings) -> list[Worker]:
    """Workers whose housekeeping touched their row within the heartbeat timeout."""
    cutoff = utcnow() - timedelta(seconds=settings.heartbeat_timeout)
    return list(session.scalars(select(Worker).where(Worker.last_seen >= cutoff).order_by(Worker.started_at)))


def target_device(session: Session, settings: Settings) -> dict:
    """The best live training worker's device; without one, this machine (so a first job can be planned)."""
    cutoff = utcnow() - timedelta(seconds=settings.heartbeat_timeout)
    workers = session.scalars(
        select(Worker).where(Worker.last_seen >= cutoff, Worker.queues.contains("train"))
    ).all()
    if workers:
        best = max(workers, key=lambda w: (w.device.startswith("cuda"), w.memory_bytes))
        return {
            "device": best.device,
            "name": best.device_name,
            "memory_bytes": best.memory_bytes,
            "bf16": bool(best.bf16),
            "peak_flops": best.peak_flops,
        }
    return {
        "device": "cpu",
        "name": "no worker online: estimated for this machine",
        "memory_bytes": psutil.virtual_memory().total,
        "bf16": False,
    }


def create_job(session: Session, settings: Settings, data: JobCreate, user: User | None) -> Job:
    """Validate a job fully, store it as queued, commit, then enqueue it. Nothing is stored on refusal."""
    start_model, parent = _resolve_start(session, data, user)
    _check_datasets(session, data, user)
    _check_rewards(session, data, user)
    spec = data.spec
    device = target_device(session, settings)
    if spec.adapter.type == "qlora" and not device["device"].startswith("cuda"):
        raise Invalid(
            "QLoRA needs a CUDA GPU (bitsandbytes 4-bit); no GPU worker is online. Choose adapter type "
            "'lora', or start a GPU worker",
            details={"field": "spec.adapter.type", "value": "qlora"},
        )
    if spec.training.precision == "fp16" and not device["device"].startswith("cuda"):
        raise Invalid(
            "precision fp16 needs a CUDA GPU (CPUs have no fp16 autocast with loss scaling); no GPU worker "
            "is online. Choose precision 'auto', 'bf16' or 'fp32'",
            details={"field": "spec.training.precision", "value": "fp16"},
        )
    root = registry.root_model(session, start_model)
    estimate = estimate_training_memory(
        root.config, spec.model_dump(), device=device["device"], bf16=device.get("bf16", False)
    )
    if estimate["total_bytes"] > device["memory_bytes"]:
        need, have = human_bytes(estimate["total_bytes"]), human_bytes(device["memory_bytes"])
        raise Invalid(
            f"this job needs about {need} but the target device ({device['name'] or device['device']}) "
            f"has {have}: use LoRA or QLoRA, a smaller batch or max_length, or gradient checkpointing",
            details={"field": "spec", "estimate": estimate, "device": device},
        )
    job = Job(
        name=data.name or f"{spec.method}-{root.name}",
        method=spec.method,
        status=JobStatus.queued,
        spec=spec.model_dump(mode="json"),
        base_model_id=start_model.id,
        parent_job_id=parent.id if parent else None,
        datasets=[ref.model_dump() for ref in data.datasets],
        eval_dataset_version_id=data.eval_dataset_version_id,
        created_by=user.id if user else None,
        owner_id=user.id if user else None,
        queued_at=utcnow(),
        memory_estimate={**estimate, "device": device},
    )
    session.add(job)
    session.flush()
    session.add(
        JobEvent(
            job_id=job.id,
            message=f"Job created and queued ({spec.method}, estimated "
            f"{human_bytes(estimate['total_bytes'])} on {device['device']})",
        )
    )
    session.commit()
    enqueue(settings, RUN_JOB_TASK, job_id=job.id)
    return job


def get_job(session: Session, job_id: int, user: User | None = None) -> Job:
    """The job if `user` may see it (404 otherwise, as for a missing one); `user=None` is the system."""
    return access.get_visible(session, Job, job_id, user, what="job")


def changeable_job(session: Session, job_id: int, user: User | None) -> Job:
    """The job if `user` may act on it: 404 unseen, 403 when it is only shared with them."""
    return access.get_changeable(session, Job, job_id, user, what="job")


def set_visibility(session: Session, job_id: int, user: User, visibility: Visibility) -> Job:
    """Share a job (curves, events, checkpoints, evaluation results, output models) or make it private."""
    job = changeable_job(session, job_id, user)
    access.set_visibility(session, job, visibility)
    for model in session.scalars(select(BaseModel).where(BaseModel.job_id == job.id)):
        model.visibility = visibility
    session.commit()
    return job


def list_jobs(
    session: Session,
    user: User | None = None,
    *,
    status: JobStatus | None,
    offset: int,
    limit: int,
) -> tuple[list[Job], int]:
    query = access.visible_to(select(Job), user, Job)
    if status:
        query = query.where(Job.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(query.order_by(Job.id.desc()).offset(offset).limit(limit)).all()
    return list(items), total


def job_metrics(session: Session, job_id: int) -> dict[str, list[tuple[int, float]]]:
    points: dict[str, list[tuple[int, float]]] = defaultdict(list)
    rows = session.execute(
        select(JobMetric.name, JobMetric.step, JobMetric.value)
        .where(JobMetric.job_id == job_id)
        .order_by(JobMetric.name, JobMetric.step, JobMetric.id)
    )
    for name, step, value in rows:
        points[name].append((step, value))
    return dict(points)


def job_events(
    session: Session, job_id: int, after_id: int = 0, *, user: User | None = None
) -> list[JobEvent]:
    get_job(session, job_id, user)
    return list(
        session.scalars(
            select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.id > after_id).order_by(JobEvent.id)
        )
    )


def job_checkpoints(session: Session, job_id: int, *, user: User | None = None) -> list[Checkpoint]:
    get_job(session, job_id, user)
    return list(
        session.scalars(select(Checkpoint).where(Checkpoint.job_id == job_id).order_by(Checkpoint.step))
    )


def output_model_id(job: Job) -> int | None:
    return (job.result or {}).get("output_model_id")


def owner_names(session: Session, rows: list[Job]) -> dict[int, str]:
    """Username by user id, for the owners of `rows` (one query)."""
    ids = {job.owner_id for job in rows if job.owner_id}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def queue_positions(session: Session) -> dict[int, int]:
    """Each queued job's place in the line (1 = next to run), in the order workers claim (claim_next_job)."""
    ids = session.scalars(
        select(Job.id)
        .where(Job.status == JobStatus.queued)
        .order_by(func.coalesce(Job.queued_at, Job.created_at), Job.id)
    )
    return {job_id: position for position, job_id in enumerate(ids, start=1)}


def _take_from_dead_worker(session: Session, job: Job, values: dict) -> bool:
    """Change a running job whose worker is gone, unless that worker came back and touched it meanwhile."""
    changed = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == JobStatus.running, Job.worker_id == job.worker_id)
        .where(Job.heartbeat_at == job.heartbeat_at)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.expire(job)
    return bool(changed)


def cancel_job(session: Session, settings: Settings, job_id: int, *, user: User | None = None) -> Job:
    """Queued or paused jobs cancel at once; a running one is stopped by its worker within seconds, or at once
    when its worker is gone (nobody would ever act on the request)."""
    job = changeable_job(session, job_id, user)
    if job.status.is_final:
        raise Conflict(f"job {job_id} is already {job.status.value}", code="job_finished")
    if job.status in (JobStatus.queued, JobStatus.paused):
        job.status, job.finished_at = JobStatus.cancelled, utcnow()
        session.add(JobEvent(job_id=job.id, message="Cancelled before it ran"))
    elif job_runtime.job_is_orphaned(session, job, settings) and _take_from_dead_worker(
        session, job, {"status": JobStatus.cancelled, "finished_at": utcnow(), "cancel_requested": True}
    ):
        session.add(JobEvent(job_id=job.id, message=f"Cancelled (its worker {job.worker_id} is gone)"))
    else:
        job.cancel_requested = True
        session.add(JobEvent(job_id=job.id, message="Cancel requested"))
    session.commit()
    return job


def pause_job(session: Session, job_id: int, *, user: User | None = None) -> Job:
    job = changeable_job(session, job_id, user)
    if job.status != JobStatus.running:
        raise Conflict(
            f"only a running job can be paused; job {job_id} is {job.status.value}", code="not_running"
        )
    job.pause_requested = True
    session.add(JobEvent(job_id=job.id, message="Pause requested: saving a checkpoint"))
    session.commit()
    return job


def resume_job(session: Session, settings: Settings, job_id: int, *, user: User | None = None) -> Job:
    job = changeable_job(session, job_id, user)
    # a running job whose worker is gone: re-queue it now rather than wait for the reaper
    if job_runtime.job_is_orphaned(session, job, settings) and _take_from_dead_worker(
        session, job, {"status": JobStatus.queued, "worker_id": None}
    ):
        session.add(JobEvent(job_id=job.id, message="Resumed: its worker is gone; re-queued"))
        session.commit()
        enqueue(settings, RUN_JOB_TASK, job_id=job.id)
        return job
    if job.status not in (JobStatus.paused, JobStatus.failed):
        raise Conflict(
            f"only a paused or failed job, or one whose worker is gone, can be resumed; job {job_id} is "
            f"{job.status.value}",
            code="not_resumable",
        )
    job.status, job.queued_at, job.finished_at, job.error = JobStatus.queued, utcnow(), None, None
    job.pause_requested = job.cancel_requested = False
    job.attempt = 0
    session.add(JobEvent(job_id=job.id, message="Resumed: queued to continue from its last checkpoint"))
    session.commit()
    enqueue(settings, RUN_JOB_TASK, job_id=job.id)
    return job
