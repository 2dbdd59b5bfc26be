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

from backend.schemas.job_specs import PretrainSpec, SFTSpec
from worker.training.common import Recipe, TrainRequest, TrainResult, run_recipe, training_kwargs
from worker.training.data import tokenize_row
from worker.training.models import LoadedModel
from worker.training.rows import to_examples

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
    """On CPU, switch an sdpa model to per-example attention for packed rows.

    flash-attention's varlen kernel does this on GPUs; CPU has none, and a 1024-token packed row spent ~1/3
    of its compute on masked scores.
    """
    config = model.config.get_text_config()
    if not torch.cuda.is_available() and config._attn_implementation == "sdpa":
        model.set_attn_implementation(PACKED_SDPA)


def tokenized_dataset(rows: Dataset, tokenizer, spec: SFTSpec | PretrainSpec, *, loss_on: str) -> Dataset:
    """input_ids + completion_mask per row; SFTTrainer turns the mask into labels (-100 off the mask)."""
    chat = isinstance(spec, SFTSpec)  # pretraining rows are raw text: never rendered through a template
    options = {
        "template": spec.chat_template if chat else "model",
        "max_length": spec.training.max_length,
        "loss_on": loss_on,
        "system_prompt": spec.system_prompt if chat else None,
    }

    def example(row: dict) -> dict:
        out = tokenize_row(row, tokenizer, **options)
        return {"input_ids": out["input_ids"], "completion_mask": out["completion_mask"]}

    examples = to_examples(rows, example, desc="Tokenizing")
    # a row truncated before its reply teaches nothing
    kept = examples.filter(any, input_columns="completion_mask", desc="Dropping rows with no trained token")
    if not len(kept):
        raise ValueError("no row has a trainable token after truncation: raise max_length or check the rows")
    return kept


def sft_args(shared: dict, spec: SFTSpec | PretrainSpec, *, packing: bool, loss_on: str) -> dict:
    """SFTConfig's keyword arguments: the shared training ones and SFT's own."""
    return {
        **shared,
        "max_length": spec.training.max_length,
        # bfd packing is padding-free: examples are concatenated, attention kept within each by position ids
        "packing": packing,
        "packing_strategy": "bfd",
        "completion_only_loss": loss_on == "assistant",
        "dataset_num_proc": None,
    }


def sft_config(
    spec: SFTSpec | PretrainSpec,
    req: TrainRequest,
    precision: str,
    *,
    has_eval: bool,
    packing: bool,
    loss_on: str,
) -> SFTConfig:
    shared = training_kwargs(spec, req.output_dir, precision=precision, has_eval=has_eval)
    return SFTConfig(**sft_args(shared, spec, packing=packing, loss_on=loss_on))


class SFTRecipe(Recipe):
    """SFTTrainer on rows tokenized here, packed (padding-free) when the spec asks and the adapter allows."""

    config_cls, trainer_cls = SFTConfig, SFTTrainer

    def __init__(self, req: TrainRequest, *, loss_on: str) -> None:
        super().__init__(req)
        self.loss_on = loss_on
        self.packing = self.spec.training.packing

    def prepare(self, loaded: LoadedModel) -> None:
        if self.packing and loaded.adapter == "prompt_tuning":
            # soft-prompt tokens are prepended per example, which a packed row cannot express
            self.req.reporter.log_event("packing is off for prompt tuning", "warning")
            self.packing = False
        if self.packing:
            use_packed_attention(loaded.model)

    def examples(self, rows: Dataset, loaded: LoadedModel) -> Dataset:
        return tokenized_dataset(rows, loaded.tokenizer, self.spec, loss_on=self.loss_on)

    def config_args(self, shared: dict, loaded: LoadedModel) -> dict:
        return sft_args(shared, self.spec, packing=self.packing, loss_on=self.loss_on)


def train_sft(req: TrainRequest, spec: SFTSpec) -> TrainResult:
    return run_recipe(SFTRecipe(req, loss_on=spec.loss_on))


def train_pretrain(req: TrainRequest, spec: PretrainSpec) -> TrainResult:
    """Raw text, loss on every token (packing on by default in PretrainSpec)."""
    return run_recipe(SFTRecipe(req, loss_on="all"))
