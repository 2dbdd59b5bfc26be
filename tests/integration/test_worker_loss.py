"""The scaled form (PostgreSQL + Redis + real Celery workers): a worker killed mid-job never leaves the job stuck;
the next worker resumes it from its last checkpoint and ends with the same number of optimizer steps."""

from __future__ import annotations

import os
import signal
import time

import psutil

from tests.e2e.slice_helpers import learnable_chat_jsonl, sft_job, upload, wait_for_job


def _training_children(worker_pid: int) -> list[psutil.Process]:
    """Training processes started by that worker (they carry its pid on their command line)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if (
            "worker.jobs.child" in cmdline
            and "--parent-pid" in cmdline
            and cmdline[cmdline.index("--parent-pid") + 1] == str(worker_pid)
        ):
            found.append(proc)
    return found


def test_sigkilled_worker_job_resumes_on_the_next_worker(scaled_studio):
    client = scaled_studio.client()
    dataset = upload(client, "resume-me", learnable_chat_jsonl())
    first = scaled_studio.start_worker("train")
    job = sft_job(
        client, scaled_studio.tiny_model_id, dataset["versions"][0]["id"], max_steps=240, save_steps=20
    )

    # Let it pass at least one checkpoint, then kill the worker process outright (no chance to clean up).
    wait_for_job(client, job["id"], states=("running",), condition=lambda j: j["current_step"] >= 45)
    assert _training_children(first.pid), "the job should be training in a child process of the worker"
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    deadline = time.monotonic() + 10
    while _training_children(first.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _training_children(first.pid), "the training process outlived its worker"
    assert client.get(f"/api/jobs/{job['id']}").json()["status"] == "running"  # until the heartbeat times out

    scaled_studio.start_worker("train")
    done = wait_for_job(client, job["id"], timeout=300)
    assert done["status"] == "succeeded", done["error"]
    assert done["attempt"] == 2
    assert done["result"]["global_step"] == 240  # same optimizer steps as an uninterrupted run
    messages = [e["message"] for e in client.get(f"/api/jobs/{job['id']}/events").json()]
    assert any("stopped responding" in m for m in messages)
    assert any("Resuming from the last checkpoint" in m for m in messages)
    started_on = {m.split("worker ")[1] for m in messages if m.startswith("Started on worker")}
    assert len(started_on) == 2
