"""A resumed full fine-tuning PPO run keeps the model it started from as its KL reference."""

import torch
from transformers import AutoModelForCausalLM

from worker.training.common import TrainRequest, resolve_resume
from worker.training.ppo import PPORun
from worker.training.reporting import RecordingReporter
from worker.training.runner import run_training
from worker.training.tiny import build_tiny_model

PROMPTS = [{"prompt": [{"role": "user", "content": f"say something {i}"}], "answer": "cat"} for i in range(4)]
SPEC = {
    "adapter": {"type": "none"},
    # a length reward differs between completions from the first step, so the policy moves at once
    "rewards": [{"kind": "length", "target_length": 12}],
    "num_generations": 2,
    "max_completion_length": 6,
    "training": {
        "max_steps": 4,
        "batch_size": 4,
        "learning_rate": 5e-3,
        "max_length": 64,
        "lr_scheduler": "constant",
        "warmup_ratio": 0,
        "save_steps": 100,
    },
}


def request(base, out, **kwargs) -> TrainRequest:
    return TrainRequest("ppo", SPEC, base, PROMPTS, str(out), **kwargs)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    left, right = a.state_dict(), b.state_dict()
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


def test_resumed_full_fine_tuning_ppo_compares_against_the_starting_model(tmp_path):
    base = str(build_tiny_model(tmp_path / "base"))
    paused = run_training(request(base, tmp_path / "run", reporter=RecordingReporter(stop_at=2)))
    assert paused.status == "paused" and paused.checkpoint_dir.name == "checkpoint-2"
    starting = AutoModelForCausalLM.from_pretrained(base)
    trained = AutoModelForCausalLM.from_pretrained(paused.checkpoint_dir)
    assert not same_weights(trained, starting)  # two steps moved the policy away from where it started

    resumed = request(base, tmp_path / "run", resume_from_checkpoint="latest")
    run = PPORun(resumed, resumed.spec, resolve_resume(resumed))
    assert run.step_no == 2
    assert same_weights(run.reference, starting)
    assert not same_weights(run.reference, run.policy)
