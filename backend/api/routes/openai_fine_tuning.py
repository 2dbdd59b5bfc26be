"""OpenAI-compatible fine-tuning jobs (/v1/fine_tuning/jobs): each one an ordinary Afina job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import Engineer, SessionDep, SettingsDep
from backend.schemas.openai import FineTuningJobCreate
from backend.services import jobs, openai_fine_tuning
from backend.services import openai_objects as objects

router = APIRouter(prefix="/fine_tuning/jobs", tags=["openai"])

After = Annotated[str | None, Query(max_length=100, description="The last id of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=100)]


@router.post("")
def create_job(body: FineTuningJobCreate, user: Engineer, session: SessionDep, settings: SettingsDep):
    """`supervised` becomes a LoRA SFT job, `dpo` a LoRA DPO job (with its beta)."""
    job = openai_fine_tuning.create(session, settings, body, user)
    return objects.job_object(session, job)


@router.get("")
def list_jobs(user: Engineer, session: SessionDep, after: After = None, limit: Limit = 20):
    return openai_fine_tuning.list_jobs(session, user, after, limit)


@router.get("/{job_id}")
def retrieve_job(job_id: str, user: Engineer, session: SessionDep):
    return objects.job_object(session, openai_fine_tuning.get(session, job_id, user))


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, user: Engineer, session: SessionDep, settings: SettingsDep):
    job = openai_fine_tuning.get(session, job_id, user)
    return objects.job_object(session, jobs.cancel_job(session, settings, job.id, user=user))


@router.post("/{job_id}/pause")
def pause_job(job_id: str, user: Engineer, session: SessionDep):
    job = openai_fine_tuning.get(session, job_id, user)
    return objects.job_object(session, jobs.pause_job(session, job.id, user=user))


@router.post("/{job_id}/resume")
def resume_job(job_id: str, user: Engineer, session: SessionDep, settings: SettingsDep):
    job = openai_fine_tuning.get(session, job_id, user)
    return objects.job_object(session, jobs.resume_job(session, settings, job.id, user=user))


@router.get("/{job_id}/events")
def list_events(job_id: str, user: Engineer, session: SessionDep, after: After = None, limit: Limit = 20):
    job = openai_fine_tuning.get(session, job_id, user)
    return openai_fine_tuning.list_events(session, job, after, limit)


@router.get("/{job_id}/checkpoints")
def list_checkpoints(
    job_id: str, user: Engineer, session: SessionDep, after: After = None, limit: Limit = 10
):
    job = openai_fine_tuning.get(session, job_id, user)
    return openai_fine_tuning.list_checkpoints(session, job, after, limit)
