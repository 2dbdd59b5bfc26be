"""The worker's side of a job's life: claim atomically, heartbeat, record progress, finish, recover the lost.

Every transition is a conditional UPDATE on the job row, so two workers can never both own a job and a late
writer cannot resurrect a finished one.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db import as_utc, utcnow
from backend.models.jobs import Checkpoint, Job, JobEvent, JobMetric, JobStatus, Worker
from backend.queue import RUN_JOB_TASK, enqueue

log = logging.getLogger(__name__)


def claim_next_job(session: Session, worker_id: str, *, tries: int = 20) -> Job | None:
    """Claim the oldest queued job (FIFO by queued_at, then id), whatever message woke this worker up.

    Broker messages are only wake-ups: brokers do not keep order (kombu's filesystem transport reads files
    in directory order, Redis redelivers late), so the job row decides. The candidate row is locked with
    FOR UPDATE SKIP LOCKED on PostgreSQL (so concurrent workers pick different rows); on SQLite, where writers
    are serialised, the conditional UPDATE of claim_job is atomic on its own. Losing a race retries."""
    for _ in range(tries):
        candidate = session.scalar(
            select(Job.id)
            .where(Job.status == JobStatus.queued)
            .order_by(func.coalesce(Job.queued_at, Job.created_at), Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if candidate is None:
            session.rollback()
            return None
        job = claim_job(session, candidate, worker_id)
        if job is not None:
            return job
    return None


def worker_is_alive(session: Session, worker_id: str | None, settings: Settings) -> bool:
    """A worker is alive while its row is fresher than the heartbeat timeout (its housekeeping touches it)."""
    if not worker_id:
        return False
    last_seen = session.scalar(select(Worker.last_seen).where(Worker.id == worker_id))
    return last_seen is not None and as_utc(last_seen) >= utcnow() - timedelta(
        seconds=settings.heartbeat_timeout
    )


def job_is_orphaned(session: Session, job: Job, settings: Settings) -> bool:
    """A running job nobody runs: its heartbeat stopped or its worker is gone."""
    if job.status != JobStatus.running:
        return False
    cutoff = utcnow() - timedelta(seconds=settings.heartbeat_timeout)
    stale = job.heartbeat_at is None or as_utc(job.heartbeat_at) < cutoff
    return stale or not worker_is_alive(session, job.worker_id, settings)


def claim_job(session: Session, job_id: int, worker_id: str) -> Job | None:
    """Move a queued job to running for this worker; None when another worker has it or it is not queued."""
    now = utcnow()
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.queued)
        .values(
            status=JobStatus.running,
            worker_id=worker_id,
            started_at=now,
            heartbeat_at=now,
            attempt=Job.attempt + 1,
            cancel_requested=False,
            pause_requested=False,
        )
    ).rowcount
    if not claimed:
        session.rollback()
        return None
    session.add(JobEvent(job_id=job_id, message=f"Started on worker {worker_id}"))
    session.commit()
    return session.get(Job, job_id)


def heartbeat(session: Session, job_id: int, worker_id: str) -> tuple[bool, bool]:
    """Refresh the heartbeat; returns (cancel_requested, pause_requested). Raises if the job was taken."""
    touched = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker_id == worker_id, Job.status == JobStatus.running)
        .values(heartbeat_at=utcnow())
    ).rowcount
    session.commit()
    if not touched:
        raise LookupError(f"job {job_id} is no longer running on {worker_id}")
    row = session.execute(select(Job.cancel_requested, Job.pause_requested).where(Job.id == job_id)).one()
    return bool(row[0]), bool(row[1])


def add_event(session: Session, job_id: int, message: str, level: str = "info") -> None:
    session.add(JobEvent(job_id=job_id, message=message, level=level))
    session.commit()


def add_metrics(session: Session, job_id: int, step: int, metrics: dict[str, float]) -> None:
    session.add_all(JobMetric(job_id=job_id, step=step, name=k, value=float(v)) for k, v in metrics.items())
    session.commit()


def record_progress(
    session: Session,
    job_id: int,
    progress: tuple[int, int | None] | None,
    metrics: list[tuple[int, dict[str, float]]],
) -> None:
    """A batch of a job's reports in one transaction: its latest (step, total) and the metrics since then."""
    session.add_all(
        JobMetric(job_id=job_id, step=step, name=k, value=float(v))
        for step, values in metrics
        for k, v in values.items()
    )
    if progress is not None:
        session.execute(
            update(Job).where(Job.id == job_id).values(current_step=progress[0], total_steps=progress[1])
        )
    session.commit()


def set_progress(session: Session, job_id: int, step: int, total: int | None) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(current_step=step, total_steps=total))
    session.commit()


def set_output_path(session: Session, job_id: int, path: str) -> None:
    """Where the job's artifacts go (relative to the artifact store)."""
    session.get(Job, job_id).output_path = path
    session.commit()


def add_checkpoint(session: Session, job_id: int, step: int, path: str, metrics: dict) -> None:
    session.add(Checkpoint(job_id=job_id, step=step, path=path, metrics=metrics))
    session.commit()


def finish_job(
    session: Session,
    job_id: int,
    worker_id: str,
    status: JobStatus,
    *,
    error: str | None = None,
    result: dict | None = None,
) -> bool:
    """Record the outcome, only if this worker still owns the running job."""
    values: dict = {"status": status, "error": error, "heartbeat_at": utcnow()}
    if status.is_final:
        values["finished_at"] = utcnow()
    if result is not None:
        values["result"] = result
    done = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker_id == worker_id, Job.status == JobStatus.running)
        .values(**values)
    ).rowcount
    if done:
        message = {
            JobStatus.succeeded: "Succeeded",
            JobStatus.cancelled: "Cancelled",
            JobStatus.paused: "Paused at its last checkpoint",
        }.get(status, f"Failed: {error}")
        session.add(
            JobEvent(job_id=job_id, message=message, level="error" if status == JobStatus.failed else "info")
        )
    session.commit()
    return bool(done)


def recover_stale_jobs(session: Session, settings: Settings) -> list[int]:
    """Running jobs whose heartbeat stopped (worker died): re-queue to resume, or fail past max_attempts."""
    cutoff = utcnow() - timedelta(seconds=settings.heartbeat_timeout)
    stale = session.scalars(
        select(Job).where(Job.status == JobStatus.running, Job.heartbeat_at < cutoff)
    ).all()
    requeued = []
    for job in stale:
        worker_id, attempt = job.worker_id, job.attempt  # read before the update below refreshes the object
        retry = attempt < settings.max_attempts
        values = (
            # queued_at is kept: the recovered job goes back to its place in the queue, not to the end
            {"status": JobStatus.queued, "worker_id": None}
            if retry
            else {
                "status": JobStatus.failed,
                "finished_at": utcnow(),
                "error": f"worker {worker_id} stopped responding {attempt} times; giving up",
            }
        )
        changed = session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == JobStatus.running, Job.heartbeat_at < cutoff)
            .values(**values)
        ).rowcount
        if not changed:
            continue
        message = (
            f"Worker {worker_id} stopped responding; re-queued (attempt {attempt + 1} of "
            f"{settings.max_attempts}) to resume from its last checkpoint"
            if retry
            else values.get("error", "")
        )
        session.add(JobEvent(job_id=job.id, message=message, level="warning" if retry else "error"))
        session.commit()
        if retry:
            requeued.append(job.id)
    session.commit()
    for job_id in requeued:
        enqueue(settings, RUN_JOB_TASK, job_id=job_id)
    return requeued


def requeue_waiting_jobs(session: Session, settings: Settings) -> list[int]:
    """Re-publish every queued job (a message may have been lost with a broker); claims stay atomic."""
    ids = list(session.scalars(select(Job.id).where(Job.status == JobStatus.queued)))
    for job_id in ids:
        enqueue(settings, RUN_JOB_TASK, job_id=job_id)
    return ids


def register_worker(session: Session, worker_id: str, queues: str, device: dict) -> None:
    worker = session.get(Worker, worker_id) or Worker(id=worker_id, queues=queues, device=device["device"])
    worker.queues, worker.device = queues, device["device"]
    worker.device_name, worker.memory_bytes = device.get("name", ""), device.get("memory_bytes", 0)
    worker.bf16, worker.peak_flops = bool(device.get("bf16")), device.get("peak_flops")
    worker.last_seen = utcnow()
    session.add(worker)
    session.commit()


def touch_worker(session: Session, worker_id: str) -> None:
    session.execute(update(Worker).where(Worker.id == worker_id).values(last_seen=utcnow()))
    session.commit()


def unregister_worker(session: Session, worker_id: str) -> None:
    worker = session.get(Worker, worker_id)
    if worker:
        session.delete(worker)
        session.commit()
