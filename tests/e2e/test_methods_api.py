"""Every training method runs through the REST API on the tiny model, on the real worker: the weights
change, the loss falls on a learnable set, the reward model beats chance, online RL raises a toy reward with
finite KL,
and SFT -> reward model -> RLHF chains through parent_job_id."""

from __future__ import annotations

import json
import math

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from tests.e2e.slice_helpers import learnable_chat_jsonl, upload, wait_for_job
from tests.factories import preference_pairs

FAST = {
    "learning_rate": 5e-3,
    "batch_size": 4,
    "max_length": 64,
    "lr_scheduler": "constant",
    "warmup_ratio": 0,
    "save_steps": 100,
}


def _jsonl(rows) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def _series(job: dict, name: str) -> list[float]:
    return [value for _, value in job["metrics"].get(name, [])]


def _weights_changed(client, studio, job: dict) -> bool:
    model = client.get(f"/api/models/{job['output_model_id']}").json()
    folder = model["path"]
    if model["is_adapter"]:
        # Adapters start as a no-op (LoRA B = 0, soft prompts aside): any nonzero update is a change.
        tensors = load_file(f"{folder}/adapter_model.safetensors")
        return any(
            t.abs().sum() > 0
            for k, t in tensors.items()
            if "lora_B" in k or "prompt" in k or "magnitude" in k
        )
    base = AutoModelForCausalLM.from_pretrained(studio.tiny_model_path).state_dict()
    tuned = AutoModelForCausalLM.from_pretrained(folder).state_dict()
    return any(not torch.equal(base[k], tuned[k]) for k in base)


@pytest.fixture(scope="module")
def data(studio):
    client = studio.client()
    return {
        "chat": upload(client, "m-chat", learnable_chat_jsonl())["versions"][0]["id"],
        "text": upload(
            client,
            "m-text",
            _jsonl({"text": "the quick brown fox jumps over the lazy dog " * 3} for _ in range(16)),
        )["versions"][0]["id"],
        "pairs": upload(client, "m-pairs", _jsonl(preference_pairs(48, 0)))["versions"][0]["id"],
        "pairs_eval": upload(client, "m-pairs-eval", _jsonl(preference_pairs(16, 1)))["versions"][0]["id"],
        "unpaired": upload(
            client,
            "m-kto",
            _jsonl(
                {
                    "prompt": r["prompt"],
                    "completion": r["chosen" if i % 2 else "rejected"],
                    "label": bool(i % 2),
                }
                for i, r in enumerate(preference_pairs(16, 2))
            ),
        )["versions"][0]["id"],
        "prompts": upload(
            client,
            "m-prompts",
            _jsonl(
                {"prompt": [{"role": "user", "content": f"say something {i}"}], "answer": "cat"}
                for i in range(8)
            ),
        )["versions"][0]["id"],
    }


FIRST_LETTER = [{"kind": "regex", "pattern": "^[a-z]"}]
RL = {"rewards": FIRST_LETTER, "num_generations": 4, "max_completion_length": 8}
JOBS = {
    # name: (dataset key, spec, extra job fields)
    "lora": ("chat", {"method": "sft", "merge_adapter": True, "training": {**FAST, "max_steps": 25}}),
    "full": (
        "chat",
        {
            "method": "sft",
            "adapter": {"type": "none"},
            "training": {**FAST, "learning_rate": 1e-3, "max_steps": 25},
        },
    ),
    "dora": (
        "chat",
        {
            "method": "sft",
            "adapter": {"type": "dora", "use_rslora": True},
            "training": {**FAST, "max_steps": 25},
        },
    ),
    "prompt_tuning": (
        "chat",
        {
            "method": "sft",
            "adapter": {"type": "prompt_tuning", "num_virtual_tokens": 8},
            "training": {**FAST, "learning_rate": 3e-2, "max_steps": 25},
        },
    ),
    "pretrain": ("text", {"method": "pretrain", "training": {**FAST, "max_steps": 20}}),
    "reward": (
        "pairs",
        {
            "method": "reward",
            "training": {**FAST, "learning_rate": 1e-3, "batch_size": 8, "max_steps": 30, "eval_steps": 30},
        },
    ),
    "dpo": ("pairs", {"method": "dpo", "training": {**FAST, "max_steps": 8}}),
    "kto": (
        "unpaired",
        {
            "method": "kto",
            "adapter": {"type": "none"},
            "training": {**FAST, "learning_rate": 1e-4, "max_steps": 8},
        },
    ),
    "orpo": ("pairs", {"method": "orpo", "training": {**FAST, "max_steps": 8}}),
    "grpo": (
        "prompts",
        {
            "method": "grpo",
            "adapter": {"type": "none"},
            **RL,
            "training": {**FAST, "batch_size": 16, "max_steps": 20},
        },
    ),
    "rloo": (
        "prompts",
        {
            "method": "rloo",
            "adapter": {"type": "none"},
            **RL,
            "training": {**FAST, "batch_size": 16, "max_steps": 20},
        },
    ),
    "ppo": (
        "prompts",
        {
            "method": "ppo",
            "adapter": {"type": "none"},
            **RL,
            "training": {**FAST, "batch_size": 16, "max_steps": 20},
        },
    ),
}


@pytest.fixture(scope="module")
def finished(studio, data):
    """Queue every method at once (the worker runs them one by one), then wait for all."""
    client = studio.client()
    ids = {}
    for name, (key, spec) in JOBS.items():
        body = {
            "name": f"m-{name}",
            "base_model_id": studio.tiny_model_id,
            "datasets": [{"version_id": data[key]}],
            "spec": spec,
        }
        if name == "reward":
            body["eval_dataset_version_id"] = data["pairs_eval"]
        response = client.post("/api/jobs", json=body)
        assert response.status_code == 201, (name, response.text)
        ids[name] = response.json()["id"]
    return {name: wait_for_job(client, job_id, timeout=900) for name, job_id in ids.items()}


@pytest.mark.parametrize("name", ["lora", "full", "dora", "prompt_tuning", "pretrain", "dpo", "orpo"])
def test_method_changes_the_weights_and_lowers_the_loss(name, finished, studio):
    job = finished[name]
    assert job["status"] == "succeeded", job["error"]
    losses = _series(job, "loss")
    assert len(losses) >= 4 and sum(losses[-2:]) / 2 < sum(losses[:2]) / 2, losses
    assert _weights_changed(studio.client(), studio, job)


def test_merged_model_matches_the_adapter(finished, studio):
    job = finished["lora"]
    client = studio.client()
    merged = client.get(f"/api/models/{job['result']['merged_model_id']}").json()
    adapter = client.get(f"/api/models/{job['output_model_id']}").json()
    assert not merged["is_adapter"] and merged["job_id"] == job["id"]
    ids = torch.tensor([[5, 6, 7, 8]])
    from_merged = AutoModelForCausalLM.from_pretrained(merged["path"])(ids).logits
    from_adapter = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(studio.tiny_model_path), adapter["path"]
    )(ids).logits
    assert torch.allclose(from_merged, from_adapter, atol=1e-4)


def test_kto_widens_the_reward_margin(finished, studio):
    job = finished["kto"]
    assert job["status"] == "succeeded", job["error"]
    assert _series(job, "rewards/margins")[-1] > 0
    assert _weights_changed(studio.client(), studio, job)


def test_reward_model_beats_chance_on_a_separable_set(finished):
    job = finished["reward"]
    assert job["status"] == "succeeded", job["error"]
    assert _series(job, "eval_accuracy")[-1] > 0.75


@pytest.mark.parametrize("name", ["grpo", "rloo", "ppo"])
def test_online_rl_raises_a_toy_reward_with_finite_kl(name, finished):
    job = finished[name]
    assert job["status"] == "succeeded", job["error"]
    rewards, kls = _series(job, "reward"), _series(job, "kl")
    assert sum(rewards[-5:]) / 5 > sum(rewards[:5]) / 5, rewards
    assert kls and all(math.isfinite(k) for k in kls)


def test_sft_then_reward_model_then_rlhf_is_one_chain(finished, studio, data):
    client = studio.client()
    sft, reward = finished["lora"], finished["reward"]
    response = client.post(
        "/api/jobs",
        json={
            "name": "chain-grpo",
            "parent_job_id": sft["id"],
            "datasets": [{"version_id": data["prompts"]}],
            "spec": {
                "method": "grpo",
                "num_generations": 4,
                "max_completion_length": 8,
                "rewards": [
                    {"kind": "model", "reward_model_job_id": reward["id"], "weight": 1.0},
                    {"kind": "length", "target_length": 20, "weight": 0.5},
                ],
                "training": {**FAST, "batch_size": 8, "max_steps": 3},
            },
        },
    )
    assert response.status_code == 201, response.text
    job = wait_for_job(client, response.json()["id"], timeout=600)
    assert job["status"] == "succeeded", job["error"]
    assert job["parent_job_id"] == sft["id"]
    tuned = client.get(f"/api/models/{job['output_model_id']}").json()
    assert tuned["job_id"] == job["id"]
    assert all(math.isfinite(v) for v in _series(job, "reward"))


def test_rl_job_refuses_a_reward_model_that_is_not_a_reward_job(finished, studio, data):
    response = studio.client().post(
        "/api/jobs",
        json={
            "base_model_id": studio.tiny_model_id,
            "datasets": [{"version_id": data["prompts"]}],
            "spec": {
                "method": "grpo",
                "rewards": [{"kind": "model", "reward_model_job_id": finished["dpo"]["id"]}],
            },
        },
    )
    assert response.status_code == 422
    assert response.json()["details"]["field"] == "spec.rewards[0].reward_model_job_id"
