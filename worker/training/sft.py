"""Supervised fine-tuning and continued pre-training with TRL's SFTTrainer on rows we tokenize ourselves."""

from __future__ import annotations

from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from worker.training.common import TrainRequest, TrainResult, callbacks, fit, split_rows, training_kwargs
from worker.training.data import tokenize_row
from worker.training.models import load_for_training


def tokenized_dataset(rows: list[dict], tokenizer, spec: dict, *, loss_on: str) -> Dataset:
    """input_ids + completion_mask per row; SFTTrainer turns the mask into labels (-100 off the mask)."""
    kwargs = dict(template=spec.get("chat_template", "model"), max_length=spec["training"]["max_length"],  # noqa: C408
                  loss_on=loss_on, system_prompt=spec.get("system_prompt"))
    examples = [tokenize_row(row, tokenizer, **kwargs) for row in rows]
    kept = [{"input_ids": e["input_ids"], "completion_mask": e["completion_mask"]} for e in examples
            if any(e["completion_mask"])]  # a row truncated before its reply teaches nothing
    if not kept:
        raise ValueError("no row has a trainable token after truncation: raise max_length or check the rows")
    return Dataset.from_list(kept)


def sft_config(spec: dict, req: TrainRequest, precision: str, *, has_eval: bool, packing: bool,
               loss_on: str) -> SFTConfig:
    return SFTConfig(
        **training_kwargs(spec, req.output_dir, precision=precision, has_eval=has_eval),
        max_length=spec["training"]["max_length"],
        # bfd packing is padding-free: examples are concatenated and attention is kept within each by position ids
        packing=packing, packing_strategy="bfd",
        completion_only_loss=loss_on == "assistant",
        dataset_num_proc=None,
    )


def _train(req: TrainRequest, spec: dict, *, loss_on: str) -> TrainResult:
    loaded = load_for_training(req.model_path, spec)
    packing = spec["training"]["packing"]
    if packing and loaded.adapter == "prompt_tuning":
        # soft-prompt tokens are prepended per example, which a packed row cannot express
        req.reporter.log_event("packing is off for prompt tuning", "warning")
        packing = False
    train_rows, eval_rows = split_rows(req.train_rows, req.eval_rows, spec["training"]["validation_split"],
                                       spec["training"]["seed"])
    train_ds = tokenized_dataset(train_rows, loaded.tokenizer, spec, loss_on=loss_on)
    eval_ds = tokenized_dataset(eval_rows, loaded.tokenizer, spec, loss_on=loss_on) if eval_rows else None
    progress, cbs = callbacks(spec, req.reporter, eval_ds is not None)
    trainer = SFTTrainer(
        model=loaded.model, processing_class=loaded.tokenizer, train_dataset=train_ds, eval_dataset=eval_ds,
        args=sft_config(spec, req, loaded.precision, has_eval=eval_ds is not None, packing=packing,
                        loss_on=loss_on),
        callbacks=cbs,
    )
    return fit(trainer, req, progress, tokenizer=loaded.tokenizer, is_adapter=loaded.adapter != "none",
               extra_record={"base_model": loaded.base_path, "adapter": loaded.adapter})


def train_sft(req: TrainRequest, spec: dict) -> TrainResult:
    return _train(req, spec, loss_on=spec.get("loss_on", "assistant"))


def train_pretrain(req: TrainRequest, spec: dict) -> TrainResult:
    """Raw text, loss on every token (packing on by default in PretrainSpec)."""
    return _train(req, spec, loss_on="all")
