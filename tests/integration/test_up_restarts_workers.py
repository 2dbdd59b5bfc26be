"""`afina up` (the default install) restarts a worker process that died, says so, and the new worker shows in
/api/health and trains."""

from __future__ import annotations

import os
import signal

import httpx

from tests.e2e.slice_helpers import learnable_chat_jsonl, sft_job, upload, wait_for_job
from tests.integration.fault_helpers import live_workers, studio_of_kind, wait_until
from tests.stack import free_port


def _workers_by_queue(client: httpx.Client) -> dict[str, int]:
    try:
        return {w["queues"]: int(w["id"].split(":")[1]) for w in live_workers(client)}
    except httpx.HTTPError:
        return {}


def test_up_restarts_a_worker_that_died(tmp_path):
    with studio_of_kind("sqlite", tmp_path, api=False) as stack:
        port = free_port()
        stack.url = f"http://127.0.0.1:{port}"
        up = stack.spawn("up", "--port", str(port), "--no-prepare-model", log_name="up")
        client = stack.client()
        first = wait_until(
            lambda: (w := _workers_by_queue(client)) and {"train", "infer"} <= set(w) and w,
            timeout=180,
            what="afina up to start its API and both workers",
        )
        os.kill(first["train"], signal.SIGKILL)

        restarted = wait_until(
            lambda: (pid := _workers_by_queue(client).get("train")) and pid != first["train"] and pid,
            timeout=120,
            what="a new train worker",
        )
        assert up.poll() is None
        log = (stack.home / "up.log").read_text()
        assert f"The train worker (pid {first['train']}) exited" in log
        assert "restarting it in 1 s" in log
        assert f"Restarted the train worker (pid {restarted})" in log

        dataset = upload(client, "after-restart", learnable_chat_jsonl())
        job = sft_job(client, stack.tiny_model_id, dataset["versions"][0]["id"], max_steps=4, save_steps=100)
        done = wait_for_job(client, job["id"])
        assert done["status"] == "succeeded", done["error"]
