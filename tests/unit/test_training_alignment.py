"""Reward models, offline preference methods (DPO, KTO, ORPO) and online RL (GRPO, RLOO, PPO), tiny models."""

import math

import pytest
from transformers import AutoModelForSequenceClassification

from tests.factories import preference_pairs
from worker.training.common import TrainRequest
from worker.training.reporting import RecordingReporter
from worker.training.rewards import build_rewards, weighted_sum
from worker.training.runner import run_training
from worker.training.tiny import build_tiny_encoder, build_tiny_model


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return str(build_tiny_model(tmp_path_factory.mktemp("base")))


pairs = preference_pairs


def train(method, path, out, rows, *, eval_rows=None, adapter="lora", steps=8, lr=5e-3, batch=4, **extra):
    spec = {
        "adapter": {"type": adapter},
        **extra,
        "training": {
            "max_steps": steps,
            "batch_size": batch,
            "learning_rate": lr,
            "max_length": 64,
            "lr_scheduler": "constant",
            "warmup_ratio": 0,
            "eval_steps": steps,
        },
    }
    rep = RecordingReporter()
    return run_training(
        TrainRequest(method, spec, str(path), rows, str(out), eval_rows=eval_rows, reporter=rep)
    ), rep


@pytest.mark.parametrize("backbone", ["causal", "encoder"])
def test_reward_model_beats_chance(backbone, base, tmp_path):
    path = base if backbone == "causal" else build_tiny_encoder(tmp_path / "enc")
    result, _ = train(
        "reward",
        path,
        tmp_path / "out",
        pairs(48),
        eval_rows=pairs(16, seed=1),
        adapter="lora" if backbone == "causal" else "none",
        steps=30,
        lr=1e-3,
        batch=8,
    )
    assert result.metrics["eval_accuracy"] > 0.75
    if backbone == "encoder":
        assert AutoModelForSequenceClassification.from_pretrained(result.final_dir).config.num_labels == 1


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo", "hinge"])
def test_dpo_raises_the_margin(loss_type, base, tmp_path):
    result, rep = train("dpo", base, tmp_path, pairs(16), loss_type=loss_type)
    assert result.status == "completed"
    assert rep.series("rewards/margins")[-1] > 0 and rep.series("loss")[-1] < rep.series("loss")[0]


def test_kto_and_orpo(base, tmp_path):
    unpaired = [
        {"prompt": r["prompt"], "completion": r["chosen" if i % 2 else "rejected"], "label": bool(i % 2)}
        for i, r in enumerate(pairs(16))
    ]
    kto, rep = train("kto", base, tmp_path / "kto", unpaired, adapter="none", lr=1e-4)
    assert kto.status == "completed" and rep.series("rewards/margins")[-1] > 0
    orpo, rep = train("orpo", base, tmp_path / "orpo", pairs(16))
    assert orpo.status == "completed" and rep.series("loss")[-1] < rep.series("loss")[0]


def test_rule_rewards_combine_with_weights():
    specs = [
        {"kind": "format", "pattern": r"<answer>.*</answer>", "weight": 1.0},
        {"kind": "exact_match", "weight": 2.0},
        {"kind": "regex", "pattern": "cat", "weight": 0.5},
        {"kind": "length", "target_length": 10, "weight": 1.0},
    ]
    total = weighted_sum(*build_rewards(specs, {}))
    scores = total(["p", "p"], ["<answer>cat</answer>", "cat"], answer=["cat", "cat"])
    assert scores[0] == pytest.approx(1.0 + 0.0 + 0.5 + 0.0)  # 20 chars: twice the target length
    assert scores[1] == pytest.approx(0.0 + 2.0 + 0.5 + 0.3)


#: a reward a random policy earns about a third of the time, decided by the first token: learnable in seconds
FIRST_LETTER = [{"kind": "regex", "pattern": "^[a-z]"}]
PROMPTS = [{"prompt": [{"role": "user", "content": f"say something {i}"}], "answer": "cat"} for i in range(8)]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["grpo", "rloo", "ppo"])
def test_online_rl_raises_a_rule_reward(method, base, tmp_path):
    result, rep = train(
        method,
        base,
        tmp_path,
        PROMPTS,
        adapter="none",
        steps=20,
        lr=5e-3,
        batch=16,
        rewards=FIRST_LETTER,
        num_generations=4,
        max_completion_length=8,
    )
    rewards, kls = rep.series("reward"), rep.series("kl")
    assert result.status == "completed" and result.total_steps == 20
    assert sum(rewards[-5:]) / 5 > sum(rewards[:5]) / 5
    assert kls and all(math.isfinite(k) for k in kls)


def test_model_reward_scores_with_a_reward_model_folder(tmp_path):
    enc = str(build_tiny_encoder(tmp_path / "rm"))
    fns, _ = build_rewards([{"kind": "model", "reward_model_job_id": 7, "weight": 1.0}], {7: enc})
    scores = fns[0](["<p>", "<p>"], ["good", "bad"], plain_prompt=["q", "q"])
    assert len(scores) == 2 and all(math.isfinite(s) for s in scores)
    with pytest.raises(ValueError, match="reward model job 8"):
        build_rewards([{"kind": "model", "reward_model_job_id": 8}], {})
