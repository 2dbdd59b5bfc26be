"""Supervised fine-tuning and continued pre-training with TRL's SFTTrainer on rows we tokenize ourselves."""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
from trl import SFTConfig, SFTTrainer

from worker.training.common import TrainRequest, TrainResult, callbacks, fit, split_rows, training_kwargs
from worker.training.data import tokenize_row
from worker.training.models import load_for_training

#: sdpa that runs each packed example as its own causal block; registered with transformers below
PACKED_SDPA = "afina_packed_sdpa"


def packed_sdpa_forward(
    module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs
):
    """sdpa over a padding-free packed row, one causal call per example (the boundaries TRL's collator sends).

    Plain sdpa sees a packed row as one long sequence under a block-diagonal mask: it computes the full
    row x row score matrix and, with a mask, cannot use its causal fast path. Per example it computes only
    the causal triangle of each. Anything but a packed row of batch 1 goes to plain sdpa unchanged.
    """
    bounds = kwargs.get("cu_seq_lens_q")
    if bounds is None or query.shape[0] != 1 or query.shape[2] != key.shape[2]:
        return sdpa_attention_forward(
            module,
            query,
            key,
            value,
            attention_mask,
            dropout=dropout,
            scaling=scaling,
            is_causal=is_causal,
            **kwargs,
        )
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    edges = bounds.tolist()
    out = torch.cat(
        [
            F.scaled_dot_product_attention(
                query[:, :, s:e],
                key[:, :, s:e],
                value[:, :, s:e],
                dropout_p=dropout,
                scale=scaling,
                is_causal=True,
            )
            for s, e in pairwise(edges)
            if e > s
        ],
        dim=2,
    )
    return out.transpose(1, 2).contiguous(), None


AttentionInterface.register(PACKED_SDPA, packed_sdpa_forward)
AttentionMaskInterface.register(PACKED_SDPA, sdpa_mask)  # padded batches (eval, generation) keep sdpa's masks


def use_packed_attention(model) -> None:
    """On CPU, switch an sdpa model to per-example attention for packed rows (flash-attention's varlen kernel
    does this on GPUs; CPU has none, and a 1024-token packed row spent ~1/3 of its compute on masked scores)."""
    config = model.config.get_text_config()
    if not torch.cuda.is_available() and config._attn_implementation == "sdpa":
        model.set_attn_implementation(PACKED_SDPA)


def tokenized_dataset(rows: list[dict], tokenizer, spec: dict, *, loss_on: str) -> Dataset:
    """input_ids + completion_mask per row; SFTTrainer turns the mask into labels (-100 off the mask)."""
    kwargs = dict(
        template=spec.get("chat_template", "model"),
        max_length=spec["training"]["max_length"],
        loss_on=loss_on,
        system_prompt=spec.get("system_prompt"),
    )
    examples = [tokenize_row(row, tokenizer, **kwargs) for row in rows]
    kept = [
        {"input_ids": e["input_ids"], "completion_mask": e["completion_mask"]}
        for e in examples
        if any(e["completion_mask"])
    ]  # a row truncated before its reply teaches nothing
    if not kept:
        raise ValueError("no row has a trainable token after truncation: raise max_length or check the rows")
    return Dataset.from_list(kept)


def sft_config(
    spec: dict, req: TrainRequest, precision: str, *, has_eval: bool, packing: bool, loss_on: str
) -> SFTConfig:
    return SFTConfig(
        **training_kwargs(spec, req.output_dir, precision=precision, has_eval=has_eval),
        max_length=spec["training"]["max_length"],
        # bfd packing is padding-free: examples are concatenated and attention is kept within each by position ids
        packing=packing,
        packing_strategy="bfd",
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
    train_rows, eval_rows = split_rows(
        req.train_rows, req.eval_rows, spec["training"]["validation_split"], spec["training"]["seed"]
    )
    if packing:
        use_packed_attention(loaded.model)
    train_ds = tokenized_dataset(train_rows, loaded.tokenizer, spec, loss_on=loss_on)
    eval_ds = tokenized_dataset(eval_rows, loaded.tokenizer, spec, loss_on=loss_on) if eval_rows else None
    progress, cbs = callbacks(spec, req.reporter, eval_ds is not None)
    trainer = SFTTrainer(
        model=loaded.model,
        processing_class=loaded.tokenizer,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        args=sft_config(
            spec, req, loaded.precision, has_eval=eval_ds is not None, packing=packing, loss_on=loss_on
        ),
        callbacks=cbs,
    )
    return fit(
        trainer,
        req,
        progress,
        tokenizer=loaded.tokenizer,
        is_adapter=loaded.adapter != "none",
        extra_record={"base_model": loaded.base_path, "adapter": loaded.adapter},
    )


def train_sft(req: TrainRequest, spec: dict) -> TrainResult:
    return _train(req, spec, loss_on=spec.get("loss_on", "assistant"))


def train_pretrain(req: TrainRequest, spec: dict) -> TrainResult:
    """Raw text, loss on every token (packing on by default in PretrainSpec)."""
    return _train(req, spec, loss_on="all")
