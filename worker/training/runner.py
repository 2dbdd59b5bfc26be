"""Entry point of pure training: dispatch the typed request to the method's trainer, return artifacts."""

from __future__ import annotations

from collections.abc import Callable

from backend.schemas.job_specs import MethodSpec
from worker.training.common import TrainRequest, TrainResult
from worker.training.models import merge_adapter
from worker.training.online_rl import train_grpo, train_rloo
from worker.training.ppo import train_ppo
from worker.training.preference import train_dpo, train_kto, train_orpo
from worker.training.reward import train_reward
from worker.training.sft import train_pretrain, train_sft

__all__ = ["METHODS", "TrainRequest", "TrainResult", "merge_adapter", "run_training"]

#: method name -> trainer; each takes the request and its typed spec (the method's MethodSpec subclass)
METHODS: dict[str, Callable[[TrainRequest, MethodSpec], TrainResult]] = {
    "sft": train_sft,
    "pretrain": train_pretrain,
    "reward": train_reward,
    "dpo": train_dpo,
    "kto": train_kto,
    "orpo": train_orpo,
    "grpo": train_grpo,
    "rloo": train_rloo,
    "ppo": train_ppo,
}


def run_training(req: TrainRequest) -> TrainResult:
    """Train as req.spec says; see TrainResult for what comes back and where it is on disk."""
    if not len(req.train_rows):
        raise ValueError("the training set is empty")
    req.reporter.log_event(f"{req.method} training starts on {len(req.train_rows)} rows")
    return METHODS[req.method](req, req.spec)
