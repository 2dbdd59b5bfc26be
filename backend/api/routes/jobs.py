"""Training and evaluation jobs."""

from __future__ import annotations

from fastapi import APIRouter, Query

from backend.api.deps import Engineer, ResourceId, SessionDep, SettingsDep
from backend.api.errors import MAX_INT
from backend.models.jobs import JobStatus
from backend.schemas.common import VisibilityUpdate
from backend.schemas.jobs import CheckpointRead, JobCreate, JobDetail, JobEventRead, JobRead, JobsPage
from backend.services import jobs

router = APIRouter(prefix="/jobs", tags=["jobs"])


def _read(job, positions: dict[int, int] | None = None, owners: dict[int, str] | None = None) -> JobRead:
    return JobRead.model_validate(job).model_copy(
        update={
            "output_model_id": jobs.output_model_id(job),
            "queue_position": (positions or {}).get(job.id),
            "owner": (owners or {}).get(job.owner_id),
        }
    )


def _read_one(session, job) -> JobRead:
    positions = jobs.queue_positions(session) if job.status == JobStatus.queued else None
    return _read(job, positions, jobs.owner_names(session, [job]))


@router.post("", response_model=JobRead, status_code=201)
def create_job(body: JobCreate, user: Engineer, session: SessionDep, settings: SettingsDep):
    """Validate and queue a job. The spec's `method` picks the training method and its hyperparameters."""
    return _read_one(session, jobs.create_job(session, settings, body, user))


@router.get("", response_model=JobsPage)
def list_jobs(
    user: Engineer,
    session: SessionDep,
    status: JobStatus | None = None,
    offset: int = Query(0, ge=0, le=MAX_INT),
    limit: int = Query(50, ge=1, le=500),
):
    items, total = jobs.list_jobs(session, user, status=status, offset=offset, limit=limit)
    positions, owners = jobs.queue_positions(session), jobs.owner_names(session, items)
    return JobsPage(items=[_read(j, positions, owners) for j in items], total=total)


@router.get("/{job_id}", response_model=JobDetail)
def get_job(job_id: ResourceId, user: Engineer, session: SessionDep):
    """State, progress and every metric's points (the loss curve among them)."""
    job = jobs.get_job(session, job_id, user)
    return JobDetail(**_read_one(session, job).model_dump(), metrics=jobs.job_metrics(session, job_id))


@router.patch("/{job_id}", response_model=JobRead)
def update_job(job_id: ResourceId, body: VisibilityUpdate, user: Engineer, session: SessionDep):
    """Share a job (and its evaluation results and output models) with the studio or make it private."""
    return _read_one(session, jobs.set_visibility(session, job_id, user, body.visibility))


@router.get("/{job_id}/events", response_model=list[JobEventRead])
def job_events(
    job_id: ResourceId, user: Engineer, session: SessionDep, after_id: int = Query(0, ge=0, le=MAX_INT)
):
    return jobs.job_events(session, job_id, after_id, user=user)


@router.get("/{job_id}/checkpoints", response_model=list[CheckpointRead])
def job_checkpoints(job_id: ResourceId, user: Engineer, session: SessionDep):
    return jobs.job_checkpoints(session, job_id, user=user)


@router.post("/{job_id}/cancel", response_model=JobRead)
def cancel_job(job_id: ResourceId, user: Engineer, session: SessionDep, settings: SettingsDep):
    return _read_one(session, jobs.cancel_job(session, settings, job_id, user=user))


@router.post("/{job_id}/pause", response_model=JobRead)
def pause_job(job_id: ResourceId, user: Engineer, session: SessionDep):
    return _read_one(session, jobs.pause_job(session, job_id, user=user))


@router.post("/{job_id}/resume", response_model=JobRead)
def resume_job(job_id: ResourceId, user: Engineer, session: SessionDep, settings: SettingsDep):
    return _read_one(session, jobs.resume_job(session, settings, job_id, user=user))
