"""Jobs the Jobs tab can show without training anything: created through the API (no worker runs them), then
given a status, steps, metrics, events and timings straight in the database, as a worker would have.

    job = seed_job(studio, client, version_id, "sft", status="running", step=20, total=80,
                   metrics={"loss": [(s, 2.0 - s / 50) for s in range(1, 21)]})
"""

from __future__ import annotations

import json
from datetime import timedelta

import httpx

from backend.db import session_scope, utcnow
from backend.models.jobs import Job, JobEvent, JobMetric, JobStatus
from tests.e2e.slice_helpers import learnable_chat_jsonl, upload


def chat_version(client: httpx.Client, name: str) -> int:
    return upload(client, name, learnable_chat_jsonl(8))["versions"][0]["id"]


def preference_version(client: httpx.Client, name: str) -> int:
    rows = [
        json.dumps({"prompt": f"Question {i}?", "chosen": "A good answer.", "rejected": "No."})
        for i in range(8)
    ]
    return upload(client, name, "\n".join(rows).encode())["versions"][0]["id"]


def create_job(studio, client: httpx.Client, version_id: int, method: str, name: str) -> dict:
    response = client.post(
        "/api/jobs",
        json={
            "name": name,
            "base_model_id": studio.tiny_model_id,
            "datasets": [{"version_id": version_id, "weight": 1.0}],
            "spec": {"method": method, "training": {"max_steps": 80, "max_length": 64}},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def seed_job(
    studio,
    client: httpx.Client,
    version_id: int,
    method: str,
    *,
    name: str,
    status: str = "queued",
    step: int = 0,
    total: int | None = None,
    metrics: dict[str, list[tuple[int, float]]] | None = None,
    events: list[str] = (),
    seconds_running: float = 0.0,
) -> dict:
    """A job created through the API, then set to what a worker would have made of it."""
    job = create_job(studio, client, version_id, method, name)
    with session_scope(studio.settings.database_url) as session:
        row = session.get(Job, job["id"])
        row.status = JobStatus(status)
        row.current_step, row.total_steps = step, total
        if status != "queued":
            row.started_at = utcnow() - timedelta(seconds=seconds_running)
            row.heartbeat_at = utcnow()
        if status in ("succeeded", "failed", "cancelled"):
            row.finished_at = utcnow()
        for metric, points in (metrics or {}).items():
            session.add_all(JobMetric(job_id=row.id, step=s, name=metric, value=v) for s, v in points)
        session.add_all(JobEvent(job_id=row.id, level="info", message=m) for m in events)
        session.commit()
    return client.get(f"/api/jobs/{job['id']}").json()
