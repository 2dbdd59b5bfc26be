"""SFT and continued pre-training on the tiny model: every adapter kind trains, saves and loads back."""

import json

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from backend.schemas.job_specs import SFTSpec
from worker.training.common import TrainRequest
from worker.training.models import QLORA_ON_CPU, load_for_training, merge_adapter
from worker.training.reporting import RecordingReporter
from worker.training.runner import run_training
from worker.training.tiny import build_tiny_model

ROWS = [
    {
        "messages": [
            {"role": "user", "content": f"what is {a} + {b}?"},
            {"role": "assistant", "content": f"{a} + {b} = {a + b}"},
        ]
    }
    for a in range(4)
    for b in range(4)
]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return str(build_tiny_model(tmp_path_factory.mktemp("base")))


def sft(
    base,
    out,
    *,
    adapter="lora",
    steps=15,
    lr=3e-3,
    reporter=None,
    resume=None,
    method="sft",
    rows=ROWS,
    **training,
):
    spec = {
        "adapter": {"type": adapter},
        "training": {
            "max_steps": steps,
            "batch_size": 4,
            "learning_rate": lr,
            "lr_scheduler": "constant",
            "warmup_ratio": 0,
            **training,
        },
    }
    rep = reporter or RecordingReporter()
    result = run_training(
        TrainRequest(method, spec, base, rows, str(out), reporter=rep, resume_from_checkpoint=resume)
    )
    return result, rep


def fell(losses):
    return sum(losses[-3:]) / 3 < sum(losses[:3]) / 3


def test_lora_trains_saves_and_loads(base, tmp_path):
    result, rep = sft(base, tmp_path)
    assert result.status == "completed" and result.total_steps == 15 and result.is_adapter
    assert fell(rep.series("loss"))
    assert rep.series("tokens_per_s") and rep.series("memory_gb")
    weights = load_file(result.final_dir / "adapter_model.safetensors")
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in weights.items())  # B starts at zero
    assert {k.split(".")[-3] for k in weights if "lora_A" in k} >= {"q_proj", "k_proj", "v_proj", "o_proj"}
    record = json.loads((result.final_dir / "afina_training.json").read_text())
    assert record["total_steps"] == 15 and record["spec"]["adapter"]["type"] == "lora"
    ids = torch.tensor([[2, 100, 200, 300]])
    base_model = AutoModelForCausalLM.from_pretrained(base)
    before = base_model(ids).logits
    tuned = PeftModel.from_pretrained(base_model, result.final_dir)
    assert not torch.allclose(before, tuned(ids).logits)
    merged = AutoModelForCausalLM.from_pretrained(merge_adapter(result.final_dir, tmp_path / "merged"))
    assert torch.allclose(merged(ids).logits, tuned(ids).logits, atol=1e-4)


def test_full_fine_tuning(base, tmp_path):
    result, rep = sft(base, tmp_path, adapter="none", lr=1e-3)
    assert not result.is_adapter and fell(rep.series("loss"))
    tuned = AutoModelForCausalLM.from_pretrained(result.final_dir)
    original = AutoModelForCausalLM.from_pretrained(base)
    assert not torch.equal(tuned.model.embed_tokens.weight, original.model.embed_tokens.weight)


def test_dora_and_rslora(base, tmp_path):
    result, rep = sft(base, tmp_path / "dora", adapter="dora")
    assert fell(rep.series("loss"))
    config = json.loads((result.final_dir / "adapter_config.json").read_text())
    assert config["use_dora"] is True
    spec = SFTSpec(adapter={"type": "lora", "use_rslora": True, "target_modules": ["q_proj"]})
    model = load_for_training(base, spec).model
    assert model.peft_config["default"].use_rslora and model.peft_config["default"].target_modules == {
        "q_proj"
    }


def test_prompt_tuning(base, tmp_path):
    result, rep = sft(base, tmp_path, adapter="prompt_tuning", lr=3e-2, packing=True)
    assert result.status == "completed" and fell(rep.series("loss"))
    assert json.loads((result.final_dir / "adapter_config.json").read_text())["peft_type"] == "PROMPT_TUNING"


def test_pretrain_with_packing(base, tmp_path):
    texts = [{"text": "the cat sat on the red apple. " * 3}, {"text": "paris is the capital of france."}] * 8
    result, rep = sft(base, tmp_path, method="pretrain", rows=texts, steps=10, max_length=64)
    assert result.status == "completed" and fell(rep.series("loss"))
    assert result.final_dir.joinpath("adapter_model.safetensors").exists()


def test_qlora_is_refused_on_cpu(base, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this worker has a GPU")
    with pytest.raises(ValueError, match="QLoRA needs a CUDA GPU"):
        sft(base, tmp_path, adapter="qlora")
    assert "choose lora" in QLORA_ON_CPU


def test_pause_then_resume_ends_at_the_same_step(base, tmp_path):
    whole, _ = sft(base, tmp_path / "whole", steps=6, save_steps=100)
    paused, _ = sft(base, tmp_path / "split", steps=6, save_steps=100, reporter=RecordingReporter(stop_at=3))
    assert paused.status == "paused" and paused.final_dir is None
    assert paused.checkpoint_dir.name == "checkpoint-3" and (paused.checkpoint_dir / "optimizer.pt").exists()
    resumed, rep = sft(base, tmp_path / "split", steps=6, save_steps=100, resume="latest")
    assert resumed.status == "completed" and resumed.total_steps == whole.total_steps == 6
    assert min(step for step, _ in rep.metrics) == 4  # continued, not restarted


def test_cancel_stops_without_saving(base, tmp_path):
    result, _ = sft(
        base, tmp_path, steps=6, save_steps=100, reporter=RecordingReporter(stop_at=2, stop_with="cancel")
    )
    assert result.status == "cancelled" and result.total_steps == 2
    assert not (tmp_path / "checkpoints").exists() or not any((tmp_path / "checkpoints").iterdir())


def test_continue_training_a_previous_adapter(base, tmp_path):
    first, _ = sft(base, tmp_path / "first", steps=3)
    second, _ = sft(str(first.final_dir), tmp_path / "second", steps=3, validation_split=0.25)
    assert second.status == "completed" and "eval_loss" in second.metrics
    config = json.loads((second.final_dir / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == base
