"""Online RL with sampled completions and rule/model rewards: GRPO and RLOO through TRL."""

from __future__ import annotations

import math

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

from worker.training.common import TrainRequest, TrainResult, callbacks, fit, split_rows, training_kwargs
from worker.training.data import prompt_example, truncate_prompt
from worker.training.models import load_for_training
from worker.training.rewards import build_rewards


def prompt_dataset(rows: list[dict] | None, tokenizer, spec: dict) -> Dataset | None:
    """{"prompt", "answer", "plain_prompt"} rows; answer and plain_prompt reach reward functions as keywords."""
    if not rows:
        return None
    room = max(8, spec["training"]["max_length"] - spec["max_completion_length"])
    out = []
    for row in rows:
        ex = prompt_example(row, tokenizer, spec.get("chat_template", "model"))
        ex["prompt"] = truncate_prompt(ex["prompt"], tokenizer, room)
        out.append(ex)
    return Dataset.from_list(out)


def group_batch_size(batch_size: int, num_generations: int) -> int:
    """Completions per device step must hold whole groups: round the batch up to a multiple of the group size."""
    return math.ceil(batch_size / num_generations) * num_generations


def _run(req: TrainRequest, spec: dict, *, config_cls, trainer_cls) -> TrainResult:
    loaded = load_for_training(req.model_path, spec)
    loaded.tokenizer.padding_side = "left"  # generation continues from the right edge of each prompt
    train_rows, eval_rows = split_rows(
        req.train_rows, req.eval_rows, spec["training"]["validation_split"], spec["training"]["seed"]
    )
    train_ds = prompt_dataset(train_rows, loaded.tokenizer, spec)
    eval_ds = prompt_dataset(eval_rows, loaded.tokenizer, spec)
    reward_fns, weights = build_rewards(spec["rewards"], req.reward_model_paths)
    progress, cbs = callbacks(spec, req.reporter, eval_ds is not None)
    kwargs = training_kwargs(spec, req.output_dir, precision=loaded.precision, has_eval=eval_ds is not None)
    batch = group_batch_size(kwargs["per_device_train_batch_size"], spec["num_generations"])
    kwargs.update(
        per_device_train_batch_size=batch,
        per_device_eval_batch_size=batch,
        auto_find_batch_size=False,  # the group constraint does not survive halving
        include_num_input_tokens_seen="no",
    )  # generation-time batches hide input_ids from the counter
    args = config_cls(
        **kwargs,
        beta=spec["kl_coef"],
        num_generations=spec["num_generations"],
        max_completion_length=spec["max_completion_length"],
        temperature=spec["temperature"],
        reward_weights=weights,
    )
    trainer = trainer_cls(
        model=loaded.model,
        reward_funcs=reward_fns,
        args=args,
        processing_class=loaded.tokenizer,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        callbacks=cbs,
    )
    loaded.tokenizer.padding_side = "right"  # saved tokenizers keep the usual training side
    return fit(
        trainer,
        req,
        progress,
        tokenizer=loaded.tokenizer,
        is_adapter=loaded.adapter != "none",
        extra_record={"base_model": loaded.base_path, "adapter": loaded.adapter},
    )


def train_grpo(req: TrainRequest, spec: dict) -> TrainResult:
    return _run(req, spec, config_cls=GRPOConfig, trainer_cls=GRPOTrainer)


def train_rloo(req: TrainRequest, spec: dict) -> TrainResult:
    return _run(req, spec, config_cls=RLOOConfig, trainer_cls=RLOOTrainer)
