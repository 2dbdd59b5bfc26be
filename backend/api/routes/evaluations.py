"""Evaluations: metric jobs over whole datasets, their summary, per-row evidence and exports."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from backend.api.deps import Engineer, ResourceId, SessionDep, SettingsDep
from backend.api.errors import MAX_INT
from backend.schemas.evaluation import EvaluationCreate, EvaluationRowRead, EvaluationRowsPage
from backend.schemas.jobs import JobDetail, JobRead, JobsPage
from backend.services import evaluations, jobs

router = APIRouter(prefix="/evaluations", tags=["evaluations"])


@router.post("", response_model=JobRead, status_code=201)
def create_evaluation(body: EvaluationCreate, user: Engineer, session: SessionDep, settings: SettingsDep):
    """Queue an evaluation job: the models answer the dataset's rows, graders score them, and the first model
    is the baseline the others are compared with (win/tie/loss, paired tests, forgetting)."""
    return JobRead.model_validate(evaluations.create_evaluation(session, settings, body, user))


@router.get("", response_model=JobsPage)
def list_evaluations(
    user: Engineer,
    session: SessionDep,
    offset: int = Query(0, ge=0, le=MAX_INT),
    limit: int = Query(50, ge=1, le=500),
):
    items, total = evaluations.list_evaluations(session, user, offset=offset, limit=limit)
    return JobsPage(items=[JobRead.model_validate(j) for j in items], total=total)


@router.get("/{evaluation_id}", response_model=JobDetail)
def get_evaluation(evaluation_id: ResourceId, user: Engineer, session: SessionDep):
    """State, progress and, once finished, the summary in `result.summary`. An evaluation is a job: share it
    with PATCH /api/jobs/{id}."""
    job = evaluations.get_evaluation(session, evaluation_id, user)
    return JobDetail(**JobRead.model_validate(job).model_dump(), metrics=jobs.job_metrics(session, job.id))


@router.get("/{evaluation_id}/rows", response_model=EvaluationRowsPage)
def evaluation_rows(
    evaluation_id: ResourceId,
    user: Engineer,
    session: SessionDep,
    set: Literal["task", "general"] = "task",
    lost_by: str | None = Query(None, max_length=32, description="Only rows where this model (m<id>) lost."),
    offset: int = Query(0, ge=0, le=MAX_INT),
    limit: int = Query(50, ge=1, le=500),
):
    items, total = evaluations.list_rows(
        session, evaluation_id, user, set_name=set, lost_by=lost_by, offset=offset, limit=limit
    )
    return EvaluationRowsPage(items=[EvaluationRowRead.model_validate(r) for r in items], total=total)


@router.get("/{evaluation_id}/export")
def export_evaluation(
    evaluation_id: ResourceId,
    user: Engineer,
    session: SessionDep,
    format: Literal["csv", "jsonl"] = "csv",
):
    # materialised inside the request: the session closes before a streamed body would be read
    lines = list(evaluations.export_rows(session, evaluation_id, format, user))
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(
        iter(lines),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="evaluation-{evaluation_id}.{format}"'},
    )
