"""Thin Celery tasks: parse ids, call into worker.jobs. Keyword-only ids; every job function is idempotent."""

from __future__ import annotations

import os

from backend.queue import RUN_INFERENCE_TASK, RUN_JOB_TASK
from worker.celery_app import app, settings
from worker.jobs.inference_job import execute_inference_request
from worker.jobs.supervisor import execute_training_job


@app.task(name=RUN_JOB_TASK)
def run_job(*, job_id: int) -> None:
    execute_training_job(
        int(job_id), settings=settings, worker_id=os.environ.get("AFINA_WORKER_ID", "worker")
    )


@app.task(name=RUN_INFERENCE_TASK)
def run_inference(*, request_id: int) -> None:
    execute_inference_request(int(request_id), settings=settings)
