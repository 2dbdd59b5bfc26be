"""Estimate the memory a training job needs, from the model's config.json alone (no torch: runs in the API).

The figures follow the usual accounting for mixed-precision AdamW training (weights, gradients, two optimizer
moments, fp32 master weights for full fine-tuning) plus activations per layer after Korthikanti et al. (2022),
and full-vocabulary logits. It is an estimate for refusing jobs that cannot fit, not a promise.
"""

from __future__ import annotations

GiB = 2**30
_ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")


def _dims(config: dict) -> dict:
    hidden = config.get("hidden_size") or config.get("n_embd") or config.get("d_model") or 768
    layers = config.get("num_hidden_layers") or config.get("n_layer") or config.get("num_layers") or 12
    heads = config.get("num_attention_heads") or config.get("n_head") or 12
    kv_heads = config.get("num_key_value_heads") or heads
    intermediate = config.get("intermediate_size") or config.get("n_inner") or 4 * hidden
    vocab = config.get("vocab_size") or 32000
    return {"hidden": hidden, "layers": layers, "heads": heads, "kv_heads": kv_heads,
            "intermediate": intermediate, "vocab": vocab, "head_dim": config.get("head_dim") or hidden // heads}


def count_parameters(config: dict) -> int:
    """Parameters of a decoder-only transformer with gated MLP (Llama-style), from its config."""
    d = _dims(config)
    attention = d["hidden"] * d["head_dim"] * (2 * d["heads"] + 2 * d["kv_heads"])
    mlp = 3 * d["hidden"] * d["intermediate"]
    embeddings = d["vocab"] * d["hidden"] * (1 if config.get("tie_word_embeddings", True) else 2)
    return d["layers"] * (attention + mlp + 2 * d["hidden"]) + embeddings


def _adapter_parameters(d: dict, adapter: dict) -> int:
    kind = adapter.get("type", "lora")
    if kind == "prompt_tuning":
        return adapter.get("num_virtual_tokens", 20) * d["hidden"]
    targets = adapter.get("target_modules")
    if targets == "all-linear":
        per_layer = 4 * 2 * d["hidden"] + 3 * (d["hidden"] + d["intermediate"])
    else:
        names = targets or _ATTENTION
        per_layer = sum(2 * d["hidden"] for _ in names)
    return adapter.get("r", 16) * per_layer * d["layers"]


def estimate_training_memory(config: dict, spec: dict, *, device: str, num_parameters: int | None = None) -> dict:
    """Bytes a job needs on `device`, with a breakdown. `spec` is a JobSpec dump (backend.schemas.job_specs)."""
    d = _dims(config)
    adapter, training = spec.get("adapter") or {}, spec.get("training") or {}
    params = num_parameters or count_parameters(config)
    cuda = device.startswith("cuda")
    precision = training.get("precision", "auto")
    half = cuda if precision == "auto" else precision in ("bf16", "fp16")
    act_bytes = 2 if half else 4
    kind = adapter.get("type", "lora")
    full = kind == "none"

    weight_bytes = 0.55 if kind == "qlora" else (2 if half else 4)  # NF4 + quantization constants
    weights = params * weight_bytes
    trainable = params if full else _adapter_parameters(d, adapter)
    # Gradients in the training dtype; AdamW keeps two fp32 moments; mixed precision keeps fp32 master weights.
    gradients = trainable * act_bytes
    optimizer = trainable * 8 + (trainable * 4 if half and full else 0)

    batch = training.get("batch_size", 4)
    batch = 1 if batch == "auto" else int(batch)
    seq = int(training.get("max_length", 1024))
    method = spec.get("method", "sft")
    # Preference methods run chosen and rejected together; online RL scores num_generations samples per prompt.
    if method in ("dpo", "orpo", "reward"):
        batch *= 2
    if method in ("grpo", "rloo", "ppo"):
        batch *= spec.get("num_generations", 4)
        seq = min(seq, 4096) + spec.get("max_completion_length", 64)
    tokens = batch * seq
    per_layer = tokens * (34 * d["hidden"] + 5 * d["heads"] * seq) * act_bytes / 2
    if training.get("gradient_checkpointing"):
        activations = d["layers"] * tokens * d["hidden"] * act_bytes + per_layer
    else:
        activations = d["layers"] * per_layer
    logits = tokens * d["vocab"] * 4 * 2  # fp32 logits and their gradient
    reference = 0
    if full and method in ("dpo", "kto", "grpo", "rloo", "ppo"):
        reference = params * (2 if half else 4)  # a frozen copy; with adapters the base itself is the reference
    if method == "ppo":
        reference += d["hidden"] * 4 + (params * (2 if half else 4) if full else 0)  # value model
    subtotal = weights + gradients + optimizer + activations + logits + reference
    overhead = 0.1 * subtotal + (0.5 * GiB if cuda else 0)
    total = int(subtotal + overhead)
    return {
        "total_bytes": total,
        "total_gib": round(total / GiB, 3),
        "breakdown_bytes": {
            "weights": int(weights), "gradients": int(gradients), "optimizer": int(optimizer),
            "activations": int(activations), "logits": int(logits), "reference_models": int(reference),
            "overhead": int(overhead),
        },
        "parameters": params,
        "trainable_parameters": trainable,
        "assumptions": {"batch_size": batch, "max_length": seq, "half_precision": half},
    }
