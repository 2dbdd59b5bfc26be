"""Run comparison: overlay several jobs' curves, diff their configs, tabulate their evaluations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from backend.api.deps import Engineer, SessionDep
from backend.api.errors import MAX_INT
from backend.schemas.jobs import JobRead
from backend.schemas.runs import RunsComparison
from backend.services import jobs, runs

router = APIRouter(prefix="/runs", tags=["runs"])
#: a database id: bounded so a huge number is a 422, not an integer overflow in the database
JobId = Annotated[int, Field(ge=1, le=MAX_INT)]


@router.get("/compare", response_model=RunsComparison)
def compare_runs(
    user: Engineer,
    session: SessionDep,
    job_ids: Annotated[
        list[JobId], Query(min_length=1, max_length=runs.MAX_RUNS, description="Jobs to compare.")
    ],
):
    """Every metric of each job (loss, reward, KL, validation...), the settings that differ between them, and
    the evaluations that scored their output models."""
    result = runs.compare_runs(session, job_ids, user)
    read = [
        JobRead.model_validate(job).model_copy(update={"output_model_id": jobs.output_model_id(job)})
        for job in result["jobs"]
    ]
    return RunsComparison(**{**result, "jobs": read})
