"""Precision `auto` follows what the device can do, the job's events say so; MFU follows from the count."""

from __future__ import annotations

import json

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from backend.db import session_scope
from backend.services import job_runtime
from backend.services.jobs import target_device
from worker import device as device_mod
from worker.training import precision as precision_mod
from worker.training.common import TrainRequest
from worker.training.flops import flops_per_token, mfu
from worker.training.precision import FP16_ON_CPU, choose_precision, resolve_precision
from worker.training.reporting import RecordingReporter
from worker.training.runner import run_training
from worker.training.tiny import build_tiny_model

ROWS = [
    {"messages": [{"role": "user", "content": f"add {a} {b}"}, {"role": "assistant", "content": f"{a + b}"}]}
    for a in range(4)
    for b in range(4)
]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return str(build_tiny_model(tmp_path_factory.mktemp("base")))


def cpu_flags(monkeypatch, flags: set[str]) -> None:
    monkeypatch.setattr(precision_mod, "_cpu_flags", lambda *a: flags)


@pytest.mark.parametrize(
    ("device", "native", "expected"),
    [("cpu", True, "bf16"), ("cpu", False, "fp32"), ("cuda", True, "bf16"), ("cuda", False, "fp16")],
)
def test_auto_follows_native_bf16(device, native, expected):
    choice = choose_precision("auto", device, bf16_native=native, why="probe")
    assert choice.precision == expected and "auto chose" in choice.reason


def test_explicit_choices_are_kept_and_fp16_on_cpu_is_refused():
    assert choose_precision("fp32", "cpu", bf16_native=True, why="x").precision == "fp32"
    emulated = choose_precision("bf16", "cpu", bf16_native=False, why="no bf16 instructions")
    assert emulated.precision == "bf16" and "emulated" in emulated.reason
    with pytest.raises(ValueError, match="fp16"):
        choose_precision("fp16", "cpu", bf16_native=True, why="x")


def test_cpu_probe_reads_the_instruction_flags(monkeypatch):
    cpu_flags(monkeypatch, {"avx512f", "avx512_bf16", "amx_bf16"})
    choice = resolve_precision("auto", "cpu")
    assert choice.precision == "bf16" and "amx_bf16" in choice.reason
    cpu_flags(monkeypatch, {"avx2", "fma"})
    choice = resolve_precision("auto", "cpu")
    assert choice.precision == "fp32" and "no native bf16" in choice.reason


def train(base, out, precision="auto", peak=None, reporter=None):
    spec = {
        "adapter": {"type": "lora"},
        "training": {"max_steps": 4, "batch_size": 4, "precision": precision, "save_steps": 100},
    }
    rep = reporter or RecordingReporter()
    req = TrainRequest("sft", spec, base, ROWS, str(out), reporter=rep, peak_flops=peak)
    return run_training(req), rep


def precision_events(rep):
    return [message for message, _ in rep.events if message.startswith("Precision")]


@pytest.mark.parametrize(("flags", "chosen"), [({"avx512_bf16"}, "bf16"), (set(), "fp32")])
def test_training_job_uses_and_reports_the_resolved_precision(base, tmp_path, monkeypatch, flags, chosen):
    cpu_flags(monkeypatch, flags)
    seen = {}
    original = torch.autocast.__init__

    def spy(self, device_type, dtype=None, enabled=True, **kwargs):
        if enabled:
            seen["autocast"] = (device_type, dtype)
        original(self, device_type, dtype=dtype, enabled=enabled, **kwargs)

    monkeypatch.setattr(torch.autocast, "__init__", spy)
    result, rep = train(base, tmp_path, peak={"fp32": 1e11, "bf16": 4e11})
    assert result.status == "completed"
    (event,) = precision_events(rep)
    if chosen == "bf16":
        assert event.startswith("Precision bf16 mixed precision on cpu (asked: auto)")
        assert "native bf16 (avx512_bf16" in event
        assert seen["autocast"] == ("cpu", torch.bfloat16)  # the forward really runs under bf16 autocast
    else:
        assert event.startswith("Precision fp32 on cpu (asked: auto)") and "no native bf16" in event
        assert "autocast" not in seen
    record = json.loads((result.final_dir / "afina_training.json").read_text())
    assert record["spec"]["training"]["precision"] == "auto"


def test_fp16_on_cpu_fails_the_run_with_the_reason(base, tmp_path):
    with pytest.raises(ValueError, match="fp16") as info:
        train(base, tmp_path, precision="fp16")
    assert str(info.value) == FP16_ON_CPU


def test_mfu_is_tokens_per_second_times_flops_per_token_over_the_peak(base, tmp_path, monkeypatch):
    cpu_flags(monkeypatch, set())  # fp32: the peak used is the fp32 one
    result, rep = train(base, tmp_path, peak={"fp32": 2e9, "bf16": 8e9})
    per_token = result.metrics["flops_per_token"]
    assert rep.series("mfu")
    for _, metrics in rep.metrics:
        if "mfu" in metrics:
            assert metrics["mfu"] == pytest.approx(metrics["tokens_per_s"] * per_token / 2e9)
    assert result.metrics["mfu"] == pytest.approx(result.metrics["tokens_per_s"] * per_token / 2e9)
    assert any(message.startswith("Model FLOPs per token") for message, _ in rep.events)


def tiny_llama(tie=True):
    config = LlamaConfig(
        vocab_size=50,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        tie_word_embeddings=tie,
    )
    return LlamaForCausalLM(config)


def test_flops_per_token_matches_a_hand_count():
    # per layer: q, k, v, o 16x16 each (1024) + gate, up, down 16x32 each (1536) = 2560; two layers 5120;
    # the tied output head is still a 50x16 matmul (800): M = 5920. Attention at T=10: 2 * 2 * 10 * 16 = 640
    full = flops_per_token(tiny_llama(), seq_len=10)
    assert full["matmul_params"] == 5920 and full["trainable_matmul_params"] == 5920
    assert full["flops_per_token"] == 6 * 5920 + 2 * 640  # full fine-tuning: the usual 6N plus attention
    # LoRA r=4 on q and v: A (4x16) + B (16x4) = 128 per module, 4 modules: 512 more matmul weights, the only
    # trainable ones; the frozen base is run forward and backward (to the activations) but gets no gradient
    lora = get_peft_model(tiny_llama(), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    count = flops_per_token(lora, seq_len=10)
    assert count["matmul_params"] == 5920 + 512 and count["trainable_matmul_params"] == 512
    assert count["flops_per_token"] == 4 * (5920 + 512) + 2 * 640 + 2 * 512


def test_mfu_needs_a_peak():
    assert mfu(100.0, 1e9, 4e11) == pytest.approx(0.25)
    assert mfu(100.0, 1e9, None) is None


def test_device_peak_is_measured_once_and_cached(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        device_mod, "measure_peak", lambda device, seconds: calls.append(device) or {"fp32": 2e11}
    )
    assert device_mod.device_peak(tmp_path, "cpu") == {"fp32": 2e11}
    assert device_mod.device_peak(tmp_path, "cpu") == {"fp32": 2e11}
    assert calls == ["cpu"]


def test_worker_registers_bf16_and_its_peak(settings, api):
    device = {"device": "cpu", "name": "test cpu", "memory_bytes": 8 << 30, "bf16": True}
    with session_scope(settings.database_url) as session:
        job_runtime.register_worker(
            session, "w1", "train", {**device, "peak_flops": {"fp32": 2e11, "bf16": 8e11}}
        )
        target = target_device(session, settings)
    assert target["bf16"] is True and target["peak_flops"] == {"fp32": 2e11, "bf16": 8e11}
    (listed,) = api.get("/api/health").json()["workers"]
    assert listed["bf16"] is True and listed["peak_flops"]["bf16"] == 8e11


def test_generation_reports_tokens_per_second_and_time_to_first_token(base):
    from worker.inference.engine import GenerationEngine

    model = {"id": 1, "name": "tiny", "path": base, "base_path": base, "is_adapter": False}
    params = {"max_new_tokens": 6, "do_sample": False}
    answer = GenerationEngine().generate(model, [{"role": "user", "content": "add 1 2"}], params)
    assert answer["new_tokens"] > 0 and answer["tokens_per_s"] > 0
    assert 0 < answer["time_to_first_token_s"] <= answer["new_tokens"] / answer["tokens_per_s"]
