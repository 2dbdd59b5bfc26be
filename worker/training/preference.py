"""Offline preference optimisation: DPO (sigmoid / IPO / hinge), KTO and ORPO through TRL's trainers."""

from __future__ import annotations

from datasets import Dataset
from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer
from trl.experimental.orpo import ORPOConfig, ORPOTrainer

from worker.training.common import TrainRequest, TrainResult, callbacks, fit, split_rows, training_kwargs
from worker.training.data import preference_example, truncate_prompt, unpaired_example
from worker.training.models import LoadedModel, load_for_training


def _dataset(rows: list[dict] | None, loaded: LoadedModel, spec: dict, to_example) -> Dataset | None:
    if not rows:
        return None
    template = spec.get("chat_template", "model")
    max_prompt = spec.get("max_prompt_length") or spec["training"]["max_length"] // 2
    examples = []
    for row in rows:
        ex = to_example(row, loaded.tokenizer, template)
        ex["prompt"] = truncate_prompt(ex["prompt"], loaded.tokenizer, max_prompt)
        examples.append(ex)
    return Dataset.from_list(examples)


def _run(
    req: TrainRequest,
    spec: dict,
    *,
    config_cls,
    trainer_cls,
    to_example,
    method_args: dict,
    pass_ref: bool = True,
) -> TrainResult:
    """Shared shape of the three: load, build text datasets, train. With an adapter, TRL uses the base with the
    adapter switched off as the reference model (no second copy in memory); full fine-tuning copies the model."""
    loaded = load_for_training(req.model_path, spec)
    train_rows, eval_rows = split_rows(
        req.train_rows, req.eval_rows, spec["training"]["validation_split"], spec["training"]["seed"]
    )
    train_ds = _dataset(train_rows, loaded, spec, to_example)
    eval_ds = _dataset(eval_rows, loaded, spec, to_example)
    progress, cbs = callbacks(spec, req.reporter, eval_ds is not None)
    args = config_cls(
        **{
            **training_kwargs(spec, req.output_dir, precision=loaded.precision, has_eval=eval_ds is not None),
            "max_length": spec["training"]["max_length"],
            **method_args,
        }
    )
    extra = {"ref_model": None} if pass_ref else {}
    trainer = trainer_cls(
        model=loaded.model,
        args=args,
        processing_class=loaded.tokenizer,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        callbacks=cbs,
        **extra,
    )
    return fit(
        trainer,
        req,
        progress,
        tokenizer=loaded.tokenizer,
        is_adapter=loaded.adapter != "none",
        extra_record={"base_model": loaded.base_path, "adapter": loaded.adapter},
    )


def train_dpo(req: TrainRequest, spec: dict) -> TrainResult:
    return _run(
        req,
        spec,
        config_cls=DPOConfig,
        trainer_cls=DPOTrainer,
        to_example=preference_example,
        method_args={"beta": spec["beta"], "loss_type": [spec["loss_type"]]},
    )


def train_kto(req: TrainRequest, spec: dict) -> TrainResult:
    return _run(
        req,
        spec,
        config_cls=KTOConfig,
        trainer_cls=KTOTrainer,
        to_example=unpaired_example,
        method_args={
            "beta": spec["beta"],
            "desirable_weight": spec["desirable_weight"],
            "undesirable_weight": spec["undesirable_weight"],
        },
    )


def train_orpo(req: TrainRequest, spec: dict) -> TrainResult:
    """ORPO needs no reference model: the odds ratio is taken against the policy's own rejected likelihood."""
    max_length = spec["training"]["max_length"]
    return _run(
        req,
        spec,
        config_cls=ORPOConfig,
        trainer_cls=ORPOTrainer,
        to_example=preference_example,
        method_args={
            "beta": spec["beta"],
            "max_completion_length": max_length // 2,
            # its collator hides input_ids from the Trainer's token counter
            "include_num_input_tokens_seen": "no",
            "remove_unused_columns": False,
        },
        pass_ref=False,
    )
