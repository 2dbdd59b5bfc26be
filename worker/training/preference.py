"""Offline preference optimisation: DPO (sigmoid / IPO / hinge), KTO and ORPO through TRL's trainers.

With an adapter, TRL uses the base with the adapter switched off as the reference model (no second copy in
memory); full fine-tuning copies the model. ORPO needs no reference at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from datasets import Dataset
from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer
from trl.experimental.orpo import ORPOConfig, ORPOTrainer

from backend.schemas.job_specs import DPOSpec, KTOSpec, ORPOSpec
from worker.training.common import Recipe, TrainRequest, TrainResult, run_recipe
from worker.training.data import preference_example, truncate_prompt, unpaired_example
from worker.training.models import LoadedModel
from worker.training.rows import to_examples


class PreferenceRecipe(Recipe):
    """Rows as TRL's plain-text examples (prompt truncated from the left), and the method's own config."""

    #: row, tokenizer, template -> {"prompt", "chosen", "rejected"} or {"prompt", "completion", "label"}
    to_example: Callable[..., dict[str, Any]] = staticmethod(preference_example)
    reference_free = False  # True: the trainer takes no ref_model argument

    def examples(self, rows: Dataset, loaded: LoadedModel) -> Dataset:
        tokenizer, template = loaded.tokenizer, self.spec.chat_template
        max_prompt = self.max_prompt_length()
        to_example = type(self).to_example

        def example(row: dict) -> dict:
            ex = to_example(row, tokenizer, template)
            return {**ex, "prompt": truncate_prompt(ex["prompt"], tokenizer, max_prompt)}

        return to_examples(rows, example, desc="Rendering preference rows")

    def max_prompt_length(self) -> int:
        return self.spec.training.max_length // 2

    def method_args(self) -> dict[str, Any]:
        return {}

    def config_args(self, shared: dict, loaded: LoadedModel) -> dict:
        return {**super().config_args(shared, loaded), **self.method_args()}

    def trainer_args(self, loaded: LoadedModel) -> dict:
        return {} if self.reference_free else {"ref_model": None}


class DPORecipe(PreferenceRecipe):
    config_cls, trainer_cls = DPOConfig, DPOTrainer

    def max_prompt_length(self) -> int:
        return self.spec.max_prompt_length or super().max_prompt_length()

    def method_args(self) -> dict[str, Any]:
        return {"beta": self.spec.beta, "loss_type": [self.spec.loss_type]}


class KTORecipe(PreferenceRecipe):
    config_cls, trainer_cls = KTOConfig, KTOTrainer
    to_example = staticmethod(unpaired_example)

    def method_args(self) -> dict[str, Any]:
        s = self.spec
        return {
            "beta": s.beta,
            "desirable_weight": s.desirable_weight,
            "undesirable_weight": s.undesirable_weight,
        }


class ORPORecipe(PreferenceRecipe):
    """The odds ratio is taken against the policy's own rejected likelihood: no reference model."""

    config_cls, trainer_cls = ORPOConfig, ORPOTrainer
    reference_free = True

    def method_args(self) -> dict[str, Any]:
        return {
            "beta": self.spec.beta,
            "max_completion_length": self.spec.training.max_length // 2,
            # its collator hides input_ids from the Trainer's token counter
            "include_num_input_tokens_seen": "no",
            "remove_unused_columns": False,
        }


def train_dpo(req: TrainRequest, spec: DPOSpec) -> TrainResult:
    return run_recipe(DPORecipe(req))


def train_kto(req: TrainRequest, spec: KTOSpec) -> TrainResult:
    return run_recipe(KTORecipe(req))


def train_orpo(req: TrainRequest, spec: ORPOSpec) -> TrainResult:
    return run_recipe(ORPORecipe(req))
