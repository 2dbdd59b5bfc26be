"""Online RL with sampled completions and rule/model rewards: GRPO and RLOO through TRL."""

from __future__ import annotations

import math

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

from backend.schemas.job_specs import GRPOSpec, OnlineRLSpec, RLOOSpec
from worker.training.common import Recipe, TrainRequest, TrainResult, run_recipe
from worker.training.data import prompt_example, truncate_prompt
from worker.training.models import LoadedModel
from worker.training.rewards import build_rewards
from worker.training.rows import to_examples


def prompt_dataset(rows: Dataset, tokenizer, spec: OnlineRLSpec) -> Dataset:
    """{"prompt", "answer", "plain_prompt"} rows (answer and plain_prompt reach reward functions by name)."""
    room = max(8, spec.training.max_length - spec.max_completion_length)

    def example(row: dict) -> dict:
        ex = prompt_example(row, tokenizer, spec.chat_template)
        return {**ex, "prompt": truncate_prompt(ex["prompt"], tokenizer, room)}

    return to_examples(rows, example, desc="Rendering prompts")


def group_batch_size(batch_size: int, num_generations: int) -> int:
    """Completions per device step must hold whole groups: round the batch up to a multiple of the group."""
    return math.ceil(batch_size / num_generations) * num_generations


class OnlineRLRecipe(Recipe):
    """TRL's GRPO or RLOO trainer with our reward functions; batches hold whole groups of completions."""

    def prepare(self, loaded: LoadedModel) -> None:
        loaded.tokenizer.padding_side = "left"  # generation continues from the right edge of each prompt
        self.reward_fns, self.reward_weights = build_rewards(
            self.spec.rewards, self.req.reward_model_paths, self.req.classifier_paths
        )

    def examples(self, rows: Dataset, loaded: LoadedModel) -> Dataset:
        return prompt_dataset(rows, loaded.tokenizer, self.spec)

    def config_args(self, shared: dict, loaded: LoadedModel) -> dict:
        s = self.spec
        batch = group_batch_size(shared["per_device_train_batch_size"], s.num_generations)
        return {
            **shared,
            "per_device_train_batch_size": batch,
            "per_device_eval_batch_size": batch,
            "auto_find_batch_size": False,  # the group constraint does not survive halving
            "include_num_input_tokens_seen": "no",  # generation-time batches hide input_ids from the counter
            "beta": s.kl_coef,
            "num_generations": s.num_generations,
            "max_completion_length": s.max_completion_length,
            "temperature": s.temperature,
            "reward_weights": self.reward_weights,
        }

    def trainer_args(self, loaded: LoadedModel) -> dict:
        return {"reward_funcs": self.reward_fns}

    def built(self, loaded: LoadedModel) -> None:
        loaded.tokenizer.padding_side = "right"  # saved tokenizers keep the usual training side


class GRPORecipe(OnlineRLRecipe):
    config_cls, trainer_cls = GRPOConfig, GRPOTrainer


class RLOORecipe(OnlineRLRecipe):
    config_cls, trainer_cls = RLOOConfig, RLOOTrainer


def train_grpo(req: TrainRequest, spec: GRPOSpec) -> TrainResult:
    return run_recipe(GRPORecipe(req))


def train_rloo(req: TrainRequest, spec: RLOOSpec) -> TrainResult:
    return run_recipe(RLOORecipe(req))
