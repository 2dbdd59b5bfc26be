"""The tiny models build in seconds and load back through the Auto classes like any HF folder."""

import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from worker.training.tiny import build_tiny_encoder, build_tiny_model


def test_tiny_causal_model_loads_and_chats(tmp_path):
    path = build_tiny_model(tmp_path / "tiny")
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert tok.pad_token != tok.eos_token == "<|im_end|>"
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    ids = tok(text, return_tensors="pt").input_ids
    assert tok.decode(ids[0]) == text  # byte-level BPE round-trips exactly
    out = model.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape[1] > ids.shape[1]


def test_tiny_model_is_deterministic_and_supports_other_archs(tmp_path):
    a = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path / "a"))
    b = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path / "b"))
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    q = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path / "q", arch="qwen2"))
    assert q.config.model_type == "qwen2"


def test_tiny_encoder_scores_text(tmp_path):
    path = build_tiny_encoder(tmp_path / "enc")
    model = AutoModelForSequenceClassification.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    enc = tok(["a good answer", "bad"], padding=True, return_tensors="pt")
    assert model(**enc).logits.shape == (2, 1)
