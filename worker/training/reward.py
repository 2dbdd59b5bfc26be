"""Reward models: a scalar head on a causal LM or an encoder, trained on preference pairs by TRL's RewardTrainer."""

from __future__ import annotations

import json
from pathlib import Path

from datasets import Dataset
from trl import RewardConfig, RewardTrainer

from worker.training.common import TrainRequest, TrainResult, callbacks, fit, split_rows, training_kwargs
from worker.training.data import preference_example
from worker.training.models import adapter_base_path, is_adapter_dir, load_for_training


def is_causal_backbone(model_path: str | Path) -> bool:
    """Causal LMs get the chat template; encoders (BERT-style) read plain text."""
    path = adapter_base_path(model_path) if is_adapter_dir(model_path) else model_path
    config = json.loads((Path(path) / "config.json").read_text())
    return any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in config.get("architectures") or []) or bool(
        config.get("is_decoder")
    )


def plain_text(messages: list[dict]) -> str:
    return "\n".join(m["content"] for m in messages)


def pair_texts(row: dict, tokenizer, spec: dict, causal: bool) -> tuple[str, str]:
    if causal:
        ex = preference_example(row, tokenizer, spec.get("chat_template", "model"))
        return ex["prompt"] + ex["chosen"], ex["prompt"] + ex["rejected"]
    prompt = plain_text(row["prompt"])
    return prompt + "\n" + plain_text(row["chosen"]), prompt + "\n" + plain_text(row["rejected"])


def pair_dataset(rows: list[dict], tokenizer, spec: dict, causal: bool) -> Dataset:
    """Pre-tokenized chosen_ids / rejected_ids: the template already placed every special token a causal LM needs;
    encoders get their [CLS] ... [SEP] from the tokenizer."""
    max_length = spec["training"]["max_length"]
    out = []
    for row in rows:
        chosen, rejected = pair_texts(row, tokenizer, spec, causal)
        enc = [
            tokenizer(t, add_special_tokens=not causal, truncation=True, max_length=max_length)["input_ids"]
            for t in (chosen, rejected)
        ]
        out.append({"chosen_ids": enc[0], "rejected_ids": enc[1]})
    return Dataset.from_list(out)


def train_reward(req: TrainRequest, spec: dict) -> TrainResult:
    loaded = load_for_training(req.model_path, spec, task="seq_cls")
    causal = is_causal_backbone(req.model_path)
    train_rows, eval_rows = split_rows(
        req.train_rows, req.eval_rows, spec["training"]["validation_split"], spec["training"]["seed"]
    )
    train_ds = pair_dataset(train_rows, loaded.tokenizer, spec, causal)
    eval_ds = pair_dataset(eval_rows, loaded.tokenizer, spec, causal) if eval_rows else None
    progress, cbs = callbacks(spec, req.reporter, eval_ds is not None)
    args = RewardConfig(
        **training_kwargs(spec, req.output_dir, precision=loaded.precision, has_eval=eval_ds is not None),
        max_length=spec["training"]["max_length"],
        center_rewards_coefficient=spec.get("center_rewards_coefficient"),
    )
    trainer = RewardTrainer(
        model=loaded.model,
        args=args,
        processing_class=loaded.tokenizer,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        callbacks=cbs,
    )
    return fit(
        trainer,
        req,
        progress,
        tokenizer=loaded.tokenizer,
        is_adapter=loaded.adapter != "none",
        extra_record={
            "base_model": loaded.base_path,
            "adapter": loaded.adapter,
            "task": "seq_cls",
            "causal_backbone": causal,
        },
    )
