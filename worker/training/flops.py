"""Model FLOPs per trained token, counted from the architecture, and MFU against a measured device peak.

The count (per token of a sequence of length T, matmuls only; a multiply-add is 2 FLOPs):

    M   = weights of every matmul layer the model runs (nn.Linear / Conv1D, LoRA's A and B included; a tied
          output head counts: it is a matmul even though its weights are the embedding's; embedding lookups,
          norms and activations do not)
    M_t = those of M that train (requires_grad)
    A   = 2 * layers * T * attention width           (QK^T and the attention-weighted sum of V, forward)

    forward            2M + A
    backward, inputs   2M + A     gradients flow back through every layer, frozen or not, to the first adapter
    backward, weights  2M_t       only trainable weights get a gradient (LoRA: the frozen base gets none)
    ---------------------------------
    per token          4M + 2A + 2M_t    (full fine-tuning: 6M + 2A, the usual "6N")

Recomputation by gradient checkpointing is not counted: MFU measures useful model work, not what the hardware
did. Tokens are the non-padding tokens the Trainer counts.
"""

from __future__ import annotations

import torch


def _matmul_weights(model: torch.nn.Module) -> tuple[int, int]:
    """(all, trainable) weight counts of the model's matmul layers."""
    total = trainable = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D":
            count = module.weight.numel()
            total += count
            trainable += count if module.weight.requires_grad else 0
    return total, trainable


def _attention_width(config) -> tuple[int, int]:
    """(layers, width of the query/key space) from a transformers config."""
    layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", 0)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "n_embd", 0)
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_head", 0)
    head_dim = getattr(config, "head_dim", None) or (hidden // heads if heads else 0)
    return int(layers or 0), int((heads or 0) * (head_dim or 0))


def flops_per_token(model: torch.nn.Module, seq_len: float) -> dict[str, float]:
    """The count in the module docstring for a model as it trains (adapters applied, frozen parts frozen)."""
    total, trainable = _matmul_weights(model)
    config = getattr(model, "config", None)
    layers, width = _attention_width(config) if config is not None else (0, 0)
    attention = 2.0 * layers * seq_len * width
    forward = 2.0 * total + attention
    return {
        "flops_per_token": 2 * forward + 2.0 * trainable,
        "forward_flops_per_token": forward,
        "matmul_params": float(total),
        "trainable_matmul_params": float(trainable),
    }


def mfu(tokens_per_s: float, flops_per_token_: float, peak_flops: float | None) -> float | None:
    """Model FLOPs utilisation: achieved model FLOP/s over the device's measured peak (None without one)."""
    if not peak_flops or peak_flops <= 0:
        return None
    return tokens_per_s * flops_per_token_ / peak_flops


def mean_sequence_length(dataset, limit: int = 2000) -> float | None:
    """Average tokens per example of a tokenized dataset (its first `limit` rows), or None if it has none."""
    if dataset is None or "input_ids" not in (getattr(dataset, "column_names", None) or []):
        return None
    rows = dataset.select(range(min(limit, len(dataset))))["input_ids"]
    return sum(len(r) for r in rows) / len(rows) if rows else None
