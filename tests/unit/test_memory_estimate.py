"""The training-memory estimate lands near known figures and moves the right way with each option."""

from backend.services.memory_estimate import count_parameters, estimate_training_memory

GB = 1024**3
#: roughly TinyLlama-1.1B
LLAMA_1B = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 2048,
    "intermediate_size": 5632,
    "num_hidden_layers": 22,
    "num_attention_heads": 32,
    "num_key_value_heads": 4,
    "vocab_size": 32000,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
}
#: roughly Llama-2-7B
LLAMA_7B = {
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "vocab_size": 32000,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
}


def spec(adapter="lora", **training):
    return {
        "adapter": {"type": adapter, "r": 16},
        "training": {"batch_size": 1, "max_length": 512, **training},
    }


def test_parameter_count_matches_published_sizes():
    assert 1.0e9 < count_parameters(LLAMA_1B) < 1.2e9
    assert 6.5e9 < count_parameters(LLAMA_7B) < 7.0e9


def test_full_fp32_adamw_on_1b_needs_at_least_16_bytes_per_param():
    est = estimate_training_memory(LLAMA_1B, spec("none", precision="fp32"), device="cuda")
    assert est["total_bytes"] >= 16e9
    b = est["breakdown"]
    assert b["weights"] == b["gradients"] and b["optimizer_states"] == 2 * b["weights"]


def test_adapters_and_quantization_shrink_the_estimate():
    full = estimate_training_memory(LLAMA_7B, spec("none", precision="bf16"), device="cuda")["total_bytes"]
    lora = estimate_training_memory(LLAMA_7B, spec("lora", precision="bf16"), device="cuda")
    qlora = estimate_training_memory(LLAMA_7B, spec("qlora", precision="bf16"), device="cuda")
    assert qlora["total_bytes"] < lora["total_bytes"] < full
    assert 12 * GB < lora["total_bytes"] < 20 * GB  # bf16 7B weights are ~12.6 GiB
    assert qlora["total_bytes"] < 8 * GB  # the reason QLoRA exists: 7B on one consumer GPU
    assert lora["trainable_params"] < 0.01 * lora["params"]


def test_checkpointing_and_batch_move_activations():
    base = estimate_training_memory(LLAMA_1B, spec(batch_size=8, max_length=2048), device="cuda")
    ckpt = estimate_training_memory(
        LLAMA_1B, spec(batch_size=8, max_length=2048, gradient_checkpointing=True), device="cuda"
    )
    small = estimate_training_memory(LLAMA_1B, spec(batch_size=1, max_length=2048), device="cuda")
    assert ckpt["breakdown"]["activations"] < base["breakdown"]["activations"] / 5
    assert small["breakdown"]["activations"] * 8 == base["breakdown"]["activations"]


def test_cpu_resolves_auto_to_fp32():
    est = estimate_training_memory(LLAMA_1B, spec("lora"), device="cpu")
    assert est["precision"] == "fp32"


def test_auto_follows_the_workers_registered_bf16():
    assert estimate_training_memory(LLAMA_1B, spec("lora"), device="cpu", bf16=True)["precision"] == "bf16"
    assert estimate_training_memory(LLAMA_1B, spec("lora"), device="cuda", bf16=False)["precision"] == "fp16"
    assert estimate_training_memory(LLAMA_1B, spec("lora"), device="cuda", bf16=True)["precision"] == "bf16"
