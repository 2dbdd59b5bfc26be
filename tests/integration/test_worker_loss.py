"""Killing a worker, or the whole studio, mid-job never leaves the job stuck, on the default install (SQLite +
filesystem broker) as on the scaled form (PostgreSQL + Redis): the job resumes from its last checkpoint and
ends with the same number of optimizer steps; a job whose worker is gone can be cancelled or resumed at
once; a free worker runs the oldest queued job first whatever order the broker hands messages out in."""

from __future__ import annotations

import signal

import pytest

from backend.queue import RUN_JOB_TASK, enqueue
from tests.e2e.slice_helpers import learnable_chat_jsonl, sft_job, upload, wait_for_job
from tests.integration.fault_helpers import (
    KINDS,
    live_workers,
    purge_train_queue,
    sigkill_worker,
    studio_of_kind,
    wait_until,
)

STEPS = 30  # small: a loaded 2-core machine trains the tiny model at a few seconds per step


@pytest.fixture(params=KINDS)
def stack(request, tmp_path):
    with studio_of_kind(request.param, tmp_path / request.param) as studio:
        yield studio


def _start_job(stack, client, **training) -> dict:
    dataset = upload(client, "resume-me", learnable_chat_jsonl())
    return sft_job(client, stack.tiny_model_id, dataset["versions"][0]["id"], **training)


def _past_a_checkpoint(client, job_id: int) -> dict:
    return wait_for_job(client, job_id, states=("running",), condition=lambda j: j["current_step"] >= 7)


def _events(client, job_id: int) -> list[str]:
    return [e["message"] for e in client.get(f"/api/jobs/{job_id}/events").json()]


def _no_job_running(client) -> bool:
    return client.get("/api/jobs", params={"status": "running"}).json()["total"] == 0


def test_sigkilled_worker_job_resumes_on_the_next_worker(stack):
    client = stack.client()
    first = stack.start_worker("train")
    job = _start_job(stack, client, max_steps=STEPS, save_steps=5)
    _past_a_checkpoint(client, job["id"])
    sigkill_worker(first)
    assert client.get(f"/api/jobs/{job['id']}").json()["status"] == "running"  # until the heartbeat times out

    second = stack.start_worker("train")
    done = wait_for_job(client, job["id"], timeout=300)
    assert done["status"] == "succeeded", done["error"]
    assert done["attempt"] == 2
    assert done["result"]["global_step"] == STEPS  # same optimizer steps as an uninterrupted run
    messages = _events(client, job["id"])
    assert any("stopped responding" in m for m in messages)
    assert any("Resuming from the last checkpoint" in m for m in messages)
    assert len({m.split("worker ")[1] for m in messages if m.startswith("Started on worker")}) == 2
    assert [w["id"].split(":")[1] for w in live_workers(client)] == [str(second.pid)]
    assert _no_job_running(client)


def test_a_killed_and_restarted_studio_resumes_its_job(stack):
    client = stack.client()
    worker = stack.start_worker("train")
    job = _start_job(stack, client, max_steps=STEPS, save_steps=5)
    _past_a_checkpoint(client, job["id"])
    api = next(p for p in stack.processes if p.args[3] == "api")
    sigkill_worker(worker)
    stack.kill(api, signal.SIGKILL)

    stack.start_api()  # as `afina up` run again: the API and a worker, on the same data
    client = stack.client()
    restarted = stack.start_worker("train")
    done = wait_for_job(client, job["id"], timeout=300)
    assert done["status"] == "succeeded", done["error"]
    assert done["result"]["global_step"] == STEPS
    assert done["attempt"] == 2
    assert any("Resuming from the last checkpoint" in m for m in _events(client, job["id"]))
    # the restarted worker heartbeats (its start-up housekeeping ran): health shows it
    assert str(restarted.pid) in [w["id"].split(":")[1] for w in live_workers(client)]
    assert _no_job_running(client)


def test_jobs_whose_worker_is_gone_can_be_resumed_and_cancelled(stack):
    client = stack.client()
    worker = stack.start_worker("train")
    job = _start_job(stack, client, max_steps=400, save_steps=5)
    _past_a_checkpoint(client, job["id"])
    sigkill_worker(worker)
    wait_until(lambda: not live_workers(client), timeout=30, what="the dead worker to drop out of health")

    resumed = client.post(f"/api/jobs/{job['id']}/resume")  # nobody else would ever pick it up
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "queued" and resumed.json()["queue_position"] == 1

    worker = stack.start_worker("train")
    # past where the first attempt got to: the new training process is training, not starting up
    wait_for_job(
        client,
        job["id"],
        states=("running",),
        condition=lambda j: j["attempt"] == 2 and j["current_step"] >= 14,
    )
    sigkill_worker(worker)
    wait_until(lambda: not live_workers(client), timeout=30, what="the dead worker to drop out of health")

    cancelled = client.post(f"/api/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert client.get(f"/api/jobs/{job['id']}").json()["status"] == "cancelled"
    assert _no_job_running(client)


def test_a_free_worker_runs_the_oldest_queued_job_first(stack):
    client = stack.client()
    dataset = upload(client, "fifo", learnable_chat_jsonl())
    version = dataset["versions"][0]["id"]
    older = sft_job(client, stack.tiny_model_id, version, max_steps=4, save_steps=100)
    newer = sft_job(client, stack.tiny_model_id, version, max_steps=4, save_steps=100)
    positions = {j["id"]: j["queue_position"] for j in client.get("/api/jobs").json()["items"]}
    assert positions == {older["id"]: 1, newer["id"]: 2}

    purge_train_queue(stack)  # the broker now hands out the newer job's messages first
    for _ in range(2):
        enqueue(stack.settings, RUN_JOB_TASK, job_id=newer["id"])
    stack.start_worker("train")
    first = wait_for_job(client, older["id"])
    second = wait_for_job(client, newer["id"])
    assert first["status"] == second["status"] == "succeeded"
    assert first["started_at"] < second["started_at"]
    assert first["queue_position"] is None
