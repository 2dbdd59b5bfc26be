"""Data generation: Self-Instruct and Constitutional AI runs as jobs, and the default constitution."""

from __future__ import annotations

from fastapi import APIRouter, Query

from backend.api.deps import Engineer, ResourceId, SessionDep, SettingsDep
from backend.api.errors import MAX_INT
from backend.schemas.datagen import DEFAULT_CONSTITUTION, DatagenCreate
from backend.schemas.jobs import JobDetail, JobRead, JobsPage
from backend.services import datagen, jobs

router = APIRouter(prefix="/datagen", tags=["datagen"])


@router.post("", response_model=JobRead, status_code=201)
def create_datagen(body: DatagenCreate, user: Engineer, session: SessionDep, settings: SettingsDep):
    """Queue a generation job. Self-Instruct writes new tasks from seed tasks; Constitutional AI answers
    prompts, critiques and revises the answers. With `preview`, a few rows land in the job result and no
    dataset is stored. The run is listed in /api/jobs like any job (method "datagen")."""
    return JobRead.model_validate(datagen.create_datagen(session, settings, body, user))


@router.get("/constitution", response_model=list[str])
def default_constitution(_: Engineer):
    """The principles used when a Constitutional AI run names none."""
    return DEFAULT_CONSTITUTION


@router.get("", response_model=JobsPage)
def list_datagen(
    user: Engineer,
    session: SessionDep,
    offset: int = Query(0, ge=0, le=MAX_INT),
    limit: int = Query(50, ge=1, le=500),
):
    items, total = datagen.list_datagen(session, user, offset=offset, limit=limit)
    return JobsPage(items=[JobRead.model_validate(j) for j in items], total=total)


@router.get("/{datagen_id}", response_model=JobDetail)
def get_datagen(datagen_id: ResourceId, user: Engineer, session: SessionDep):
    """State, progress and, once finished, counts per filter reason and the stored dataset versions."""
    job = datagen.get_datagen(session, datagen_id, user)
    return JobDetail(**JobRead.model_validate(job).model_dump(), metrics=jobs.job_metrics(session, job.id))
