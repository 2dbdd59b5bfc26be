"""Rough training-memory estimate from a model's config.json and a job spec: pure Python, for the API process.

The figures are planning numbers (within ~30%), not promises: real use adds framework overhead, fragmentation
and temporary buffers, which the `overhead` line approximates.
"""

from __future__ import annotations

GB = 1024**3
_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
#: AdamW keeps two fp32 moments per trainable parameter; 8-bit paged AdamW (QLoRA) keeps two bytes
_OPTIMIZER_BYTES = {"adamw": 8, "paged_adamw_8bit": 2}
#: bytes of activations saved per token per layer per hidden unit (Korthikanti et al. 2022: 34 s b h,
#: flash attention removing the quadratic term)
_ACTIVATION_FACTOR = 34
_ATTENTION_PROJECTIONS = 4  # q, k, v, o: the default LoRA targets


def _get(config: dict, *names, default=None):
    text = config.get("text_config") or {}
    for name in names:
        if name in config and config[name] is not None:
            return config[name]
        if name in text and text[name] is not None:
            return text[name]
    return default


def count_parameters(config: dict) -> int:
    """Parameters of a decoder/encoder transformer from its config (embeddings + layers + untied head)."""
    hidden = _get(config, "hidden_size", "n_embd", "d_model")
    layers = _get(config, "num_hidden_layers", "n_layer", "num_layers")
    vocab = _get(config, "vocab_size", default=32000)
    inter = _get(config, "intermediate_size", "n_inner", default=None) or 4 * hidden
    heads = _get(config, "num_attention_heads", "n_head", default=max(1, hidden // 64))
    kv_heads = _get(config, "num_key_value_heads", default=heads)
    head_dim = _get(config, "head_dim", default=hidden // heads)
    attention = hidden * head_dim * (2 * heads + 2 * kv_heads)
    gated = _get(config, "hidden_act", "activation_function", default="") in (
        "silu",
        "swiglu",
        "gelu_pytorch_tanh",
    )
    mlp = (3 if gated or "intermediate_size" in config else 2) * hidden * inter
    embeddings = vocab * hidden
    head = 0 if _get(config, "tie_word_embeddings", default=True) else vocab * hidden
    return embeddings + head + layers * (attention + mlp + 2 * hidden)


def lora_parameters(config: dict, r: int, *, modules: int = _ATTENTION_PROJECTIONS) -> int:
    """A LoRA pair (d x r and r x d) on each targeted projection of every layer."""
    hidden = _get(config, "hidden_size", "n_embd", "d_model")
    layers = _get(config, "num_hidden_layers", "n_layer", "num_layers")
    return layers * modules * 2 * r * hidden


def _resolve_precision(precision: str, device: str, bf16: bool) -> str:
    """What worker.training.precision decides, from the worker's registered bf16 support."""
    if precision != "auto":
        return precision
    return "bf16" if bf16 else ("fp32" if device == "cpu" else "fp16")


def estimate_training_memory(config: dict, spec: dict, *, device: str, bf16: bool = False) -> dict:
    """Bytes needed to train: {"total_bytes", "total_gb", "breakdown", "params", "trainable_params"}.

    config is a model folder's config.json; spec a job spec dict (adapter + training); device "cuda" or "cpu".
    """
    adapter = spec.get("adapter") or {}
    training = spec.get("training") or {}
    kind = adapter.get("type", "lora")
    precision = _resolve_precision(training.get("precision", "auto"), device, bf16)
    dtype_bytes = _BYTES[precision]
    params = count_parameters(config)
    hidden = _get(config, "hidden_size", "n_embd", "d_model")
    layers = _get(config, "num_hidden_layers", "n_layer", "num_layers")

    if kind == "none":
        trainable = params
        # mixed precision keeps fp32 master weights (worker.training.models): one fp32 copy in every precision
        weights = params * 4
    elif kind == "prompt_tuning":
        trainable = adapter.get("num_virtual_tokens", 20) * hidden
        weights = params * dtype_bytes
    else:
        modules = (
            _ATTENTION_PROJECTIONS
            if adapter.get("target_modules") in (None, [])
            else (7 if adapter.get("target_modules") == "all-linear" else len(adapter["target_modules"]))
        )
        trainable = lora_parameters(config, adapter.get("r", 16), modules=modules)
        # QLoRA: 4-bit NF4 weights (0.5 byte) plus ~0.5 bit/param of quantization constants (less if double)
        weights = (
            params * (0.5 + (0.02 if adapter.get("double_quantization", True) else 0.06))
            if kind == "qlora"
            else params * dtype_bytes
        )
        weights += trainable * 4  # adapters train in fp32

    optimizer = trainable * _OPTIMIZER_BYTES["paged_adamw_8bit" if kind == "qlora" else "adamw"]
    gradients = trainable * 4
    batch = training.get("batch_size", 4)
    batch = 8 if batch == "auto" else batch
    length = training.get("max_length", 1024)
    act_bytes = 2 if precision in ("bf16", "fp16") or kind == "qlora" else 4
    per_layer = batch * length * hidden * _ACTIVATION_FACTOR * act_bytes // 2
    # with checkpointing only each layer's input is kept, plus one layer recomputed at a time
    activations = (
        (batch * length * hidden * act_bytes * layers + per_layer)
        if training.get("gradient_checkpointing")
        else per_layer * layers
    )
    vocab = _get(config, "vocab_size", default=32000)
    logits = batch * length * vocab * 4 * 2  # fp32 logits and their gradient dominate at large vocabularies
    breakdown = {
        "weights": int(weights),
        "gradients": int(gradients),
        "optimizer_states": int(optimizer),
        "activations": int(activations),
        "logits": int(logits),
    }
    breakdown["overhead"] = int(0.1 * sum(breakdown.values()) + (0.5 * GB if device != "cpu" else 0))
    total = sum(breakdown.values())
    return {
        "total_bytes": total,
        "total_gb": round(total / GB, 2),
        "breakdown": breakdown,
        "params": params,
        "trainable_params": int(trainable),
        "precision": precision,
        "adapter": kind,
    }
