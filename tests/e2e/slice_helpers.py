"""Helpers shared by the end-to-end tests: a learnable chat set, job polling."""

from __future__ import annotations

import json
import time

import httpx

ANSWER = "The secret word is pineapple."


def learnable_chat_jsonl(rows: int = 16) -> bytes:
    """A tiny set a small model can learn in a few dozen steps: one question, always the same answer."""
    lines = []
    for i in range(rows):
        lines.append(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"What is the secret word? ({i % 4})"},
                        {"role": "assistant", "content": ANSWER},
                    ]
                }
            )
        )
    return "\n".join(lines).encode()


def upload(client: httpx.Client, name: str, content: bytes, **form) -> dict:
    response = client.post(
        "/api/datasets", files={"file": (f"{name}.jsonl", content)}, data={"name": name, **form}
    )
    assert response.status_code == 201, response.text
    return response.json()


def sft_job(client: httpx.Client, model_id: int, version_id: int, **training) -> dict:
    spec = {
        "method": "sft",
        "adapter": {"type": "lora", "r": 8, "alpha": 16, "dropout": 0.0},
        "training": {
            "learning_rate": 5e-3,
            "max_steps": 30,
            "batch_size": 4,
            "max_length": 64,
            "warmup_ratio": 0.0,
            "lr_scheduler": "constant",
            "save_steps": 10,
            **training,
        },
    }
    response = client.post(
        "/api/jobs", json={"base_model_id": model_id, "datasets": [{"version_id": version_id}], "spec": spec}
    )
    assert response.status_code == 201, response.text
    return response.json()


def wait_for_job(
    client: httpx.Client,
    job_id: int,
    states=("succeeded", "failed", "cancelled"),
    timeout: float = 240,
    condition=None,
) -> dict:
    deadline = time.monotonic() + timeout
    job = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in states and (condition is None or condition(job)):
            return job
        if condition is not None and job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.3)
    events = client.get(f"/api/jobs/{job_id}/events").json()
    raise AssertionError(f"job {job_id} is {job.get('status')} (wanted {states}); events: {events}")
