"""The whole slice through the REST API on embedded defaults: upload -> LoRA SFT -> base vs tuned answers."""

from __future__ import annotations

import signal
import time

import psutil
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from tests.e2e.slice_helpers import ANSWER, learnable_chat_jsonl, sft_job, upload, wait_for_job


def test_upload_train_compare(studio):
    client = studio.client()
    dataset = upload(client, "secret-word", learnable_chat_jsonl())
    version = dataset["versions"][0]
    assert version["format"] == "chat" and version["row_count"] == 16

    job = sft_job(client, studio.tiny_model_id, version["id"])
    done = wait_for_job(client, job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["progress"] == 1.0 and done["current_step"] == 30
    losses = [value for _, value in done["metrics"]["loss"]]
    assert len(losses) >= 10
    assert sum(losses[-3:]) / 3 < 0.5 * sum(losses[:3]) / 3, losses  # the loss fell

    # The adapter is a real HF PEFT adapter: it loads and changes the base model's outputs.
    tuned = client.get(f"/api/models/{done['output_model_id']}").json()
    assert tuned["is_adapter"] and tuned["parent_model_id"] == studio.tiny_model_id
    base = AutoModelForCausalLM.from_pretrained(studio.tiny_model_path)
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    base_logits = base(ids).logits
    peft_model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(studio.tiny_model_path), tuned["path"]
    )
    assert not torch.allclose(base_logits, peft_model(ids).logits)

    checkpoints = client.get(f"/api/jobs/{job['id']}/checkpoints").json()
    assert [c["step"] for c in checkpoints][:3] == [10, 20, 30]

    response = client.post(
        "/api/generations",
        params={"wait": 120},
        json={
            "model_ids": [studio.tiny_model_id, tuned["id"]],
            "prompt": "What is the secret word? (1)",
            "max_new_tokens": 12,
            "do_sample": False,
        },
    )
    assert response.status_code == 202
    generation = response.json()
    assert generation["status"] == "succeeded", generation["error"]
    base_text, tuned_text = (o["text"] for o in generation["result"]["outputs"])
    assert tuned_text != base_text
    assert tuned_text.startswith(ANSWER[:12]), tuned_text


def test_sampling_with_a_seed_is_repeatable(studio):
    client = studio.client()
    body = {
        "model_ids": [studio.tiny_model_id],
        "prompt": "hello",
        "max_new_tokens": 8,
        "do_sample": True,
        "temperature": 1.0,
        "top_k": 20,
        "top_p": 0.9,
        "seed": 7,
    }
    first, second = (
        client.post("/api/generations", params={"wait": 120}, json=body).json() for _ in range(2)
    )
    assert first["result"]["outputs"][0]["text"] == second["result"]["outputs"][0]["text"]


def test_cancel_stops_a_running_job_within_seconds(studio):
    client = studio.client()
    dataset = upload(client, "cancel-me", learnable_chat_jsonl())
    job = sft_job(
        client, studio.tiny_model_id, dataset["versions"][0]["id"], max_steps=100000, save_steps=1000
    )
    wait_for_job(client, job["id"], states=("running",), condition=lambda j: j["current_step"] > 0)
    started = time.monotonic()
    assert client.post(f"/api/jobs/{job['id']}/cancel").status_code == 200
    done = wait_for_job(client, job["id"], states=("cancelled",), timeout=30)
    assert time.monotonic() - started < 15
    assert done["current_step"] < 100000


def test_pause_then_resume_continues_to_the_same_step_count(studio):
    client = studio.client()
    dataset = upload(client, "pause-me", learnable_chat_jsonl())
    job = sft_job(client, studio.tiny_model_id, dataset["versions"][0]["id"], max_steps=400, save_steps=50)
    wait_for_job(client, job["id"], states=("running",), condition=lambda j: j["current_step"] >= 5)
    assert client.post(f"/api/jobs/{job['id']}/pause").status_code == 200
    paused = wait_for_job(client, job["id"], states=("paused",), timeout=60)
    assert 0 < paused["current_step"] < 400
    assert client.post(f"/api/jobs/{job['id']}/resume").status_code == 200
    done = wait_for_job(client, job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["result"]["global_step"] == 400


def test_a_crashed_training_process_fails_the_job_but_not_the_worker(studio):
    client = studio.client()
    version_id = upload(client, "crash-me", learnable_chat_jsonl())["versions"][0]["id"]
    job = sft_job(client, studio.tiny_model_id, version_id, max_steps=100000, save_steps=1000)
    wait_for_job(client, job["id"], states=("running",), condition=lambda j: j["current_step"] > 0)
    # What the kernel's out-of-memory killer does: SIGKILL the training process, not the worker.
    children = [
        p
        for p in psutil.process_iter(["cmdline"])
        if "worker.jobs.child" in (p.info["cmdline"] or [])
        and str(job["id"]) in p.info["cmdline"]
        and p.environ().get("AFINA_HOME") == str(studio.home)
    ]
    assert len(children) == 1
    children[0].send_signal(signal.SIGKILL)
    failed = wait_for_job(client, job["id"], states=("failed",), timeout=60)
    assert "out-of-memory" in failed["error"] and "batch_size" in failed["error"]
    # The worker lives on and runs the next job.
    after = sft_job(client, studio.tiny_model_id, version_id, max_steps=2)
    assert wait_for_job(client, after["id"])["status"] == "succeeded"
