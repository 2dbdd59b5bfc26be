"""Reward models: a scalar head on a causal LM or an encoder, trained on preference pairs by RewardTrainer."""

from __future__ import annotations

import json
from pathlib import Path

from datasets import Dataset
from trl import RewardConfig, RewardTrainer

from backend.schemas.job_specs import RewardSpec
from worker.training.common import Recipe, TrainRequest, TrainResult, run_recipe
from worker.training.data import preference_example
from worker.training.models import LoadedModel, weights_folder
from worker.training.rows import to_examples


def is_causal_backbone(model_path: str | Path) -> bool:
    """Causal LMs get the chat template; encoders (BERT-style) read plain text."""
    config = json.loads((Path(weights_folder(model_path)) / "config.json").read_text())
    return any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in config.get("architectures") or []) or bool(
        config.get("is_decoder")
    )


def plain_text(messages: list[dict]) -> str:
    return "\n".join(m["content"] for m in messages)


def pair_texts(row: dict, tokenizer, template: str, causal: bool) -> tuple[str, str]:
    """The chosen and rejected texts a reward model scores: templated for causal LMs, plain for encoders."""
    if causal:
        ex = preference_example(row, tokenizer, template)
        return ex["prompt"] + ex["chosen"], ex["prompt"] + ex["rejected"]
    prompt = plain_text(row["prompt"])
    return prompt + "\n" + plain_text(row["chosen"]), prompt + "\n" + plain_text(row["rejected"])


def pair_dataset(rows: Dataset, tokenizer, spec: RewardSpec, causal: bool) -> Dataset:
    """Pre-tokenized chosen_ids / rejected_ids.

    The template already placed every special token a causal LM needs; encoders get their [CLS] ... [SEP]
    from the tokenizer.
    """
    max_length = spec.training.max_length

    def example(row: dict) -> dict:
        chosen, rejected = pair_texts(row, tokenizer, spec.chat_template, causal)
        enc = [
            tokenizer(t, add_special_tokens=not causal, truncation=True, max_length=max_length)["input_ids"]
            for t in (chosen, rejected)
        ]
        return {"chosen_ids": enc[0], "rejected_ids": enc[1]}

    return to_examples(rows, example, desc="Tokenizing preference pairs")


class RewardRecipe(Recipe):
    config_cls, trainer_cls = RewardConfig, RewardTrainer
    task = "seq_cls"

    def __init__(self, req: TrainRequest) -> None:
        super().__init__(req)
        self.causal = is_causal_backbone(req.model_path)

    def examples(self, rows: Dataset, loaded: LoadedModel) -> Dataset:
        return pair_dataset(rows, loaded.tokenizer, self.spec, self.causal)

    def config_args(self, shared: dict, loaded: LoadedModel) -> dict:
        return {
            **super().config_args(shared, loaded),
            "center_rewards_coefficient": self.spec.center_rewards_coefficient,
        }

    def record(self, loaded: LoadedModel) -> dict:
        return {"task": self.task, "causal_backbone": self.causal}


def train_reward(req: TrainRequest, spec: RewardSpec) -> TrainResult:
    return run_recipe(RewardRecipe(req))
