"""Batched, length-sorted, left-padded generation gives the answers one-at-a-time generation gives; a mixed
batch of adapters answers as each adapter alone; perplexity scores only the answer tokens."""

from __future__ import annotations

import math

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from worker.evaluation.generation import (
    BASE_ADAPTER,
    GenerationParams,
    generate_answers,
    length_sorted_batches,
)
from worker.evaluation.perplexity import answer_nll, perplexity
from worker.evaluation.rows import EvalItem, item_from_row, with_examples

PROMPTS = [
    "<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nthe quick brown fox jumps over the lazy dog again<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nwhy<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nwrite a summary of the meeting about the budget<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nsay hi<|im_end|>\n<|im_start|>assistant\n",
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def _one_at_a_time(model, tokenizer, params, **extra):
    answers = []
    for prompt in PROMPTS:
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
        out = model.generate(**ids, **params.generate_kwargs(tokenizer), **extra)
        new = out[0, ids["input_ids"].shape[1] :]
        answers.append(tokenizer.decode(new[new != tokenizer.pad_token_id], skip_special_tokens=True).strip())
    return answers


def test_length_sorted_batches_cover_every_row_once():
    batches = length_sorted_batches([5, 1, 9, 3, 7], 2)
    assert batches == [[2, 4], [0, 3], [1]]


def test_batched_greedy_equals_one_at_a_time(tiny):
    model, tokenizer = tiny
    params = GenerationParams(max_new_tokens=12)
    batched = generate_answers(model, tokenizer, PROMPTS, params, batch_size=3)
    assert [a["text"] for a in batched] == _one_at_a_time(model, tokenizer, params)
    assert all(0 < a["new_tokens"] <= 12 for a in batched)


def test_sampling_is_reproducible_with_a_seed(tiny):
    model, tokenizer = tiny
    params = GenerationParams(max_new_tokens=10, do_sample=True, temperature=1.5, seed=7)
    first = generate_answers(model, tokenizer, PROMPTS, params, batch_size=2)
    assert first == generate_answers(model, tokenizer, PROMPTS, params, batch_size=2)
    other = generate_answers(model, tokenizer, PROMPTS, GenerationParams(**{**params.__dict__, "seed": 8}))
    assert first != other


def test_mixed_adapter_batch_equals_each_adapter_alone(tiny_model_dir):
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = {"r": 4, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"], "init_lora_weights": False}
    torch.manual_seed(1)
    model = get_peft_model(base, LoraConfig(**config), adapter_name="a0")
    model.add_adapter("a1", LoraConfig(**config))
    model.eval()
    params = GenerationParams(max_new_tokens=8)
    names = [BASE_ADAPTER, "a0", "a1", "a0", BASE_ADAPTER]
    mixed = [a["text"] for a in generate_answers(model, tokenizer, PROMPTS, params, adapter_names=names)]
    alone = {}
    for name in ("a0", "a1"):
        model.set_adapter(name)
        alone[name] = _one_at_a_time(model, tokenizer, params)
    with model.disable_adapter():
        alone[BASE_ADAPTER] = _one_at_a_time(model, tokenizer, params)
    assert mixed == [alone[name][i] for i, name in enumerate(names)]
    assert len({tuple(v) for v in alone.values()}) == 3  # the adapters really answer differently


def test_answer_nll_scores_only_the_answer(tiny):
    model, tokenizer = tiny
    pairs = [(PROMPTS[0], "hi there<|im_end|>"), (PROMPTS[1], "a fox<|im_end|>")]
    got = answer_nll(model, tokenizer, pairs, batch_size=2)
    for (prompt, answer), (nll, n) in zip(pairs, got, strict=True):
        full = tokenizer(prompt + answer, add_special_tokens=False, return_tensors="pt")["input_ids"]
        head = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        logits = model(input_ids=full).logits[0, :-1]
        expected = torch.nn.functional.cross_entropy(logits[head - 1 :], full[0, head:], reduction="sum")
        assert n == full.shape[1] - head
        assert nll == pytest.approx(float(expected), rel=1e-4)
    summary = perplexity(got)
    assert summary["perplexity"] == pytest.approx(math.exp(sum(x for x, _ in got) / sum(t for _, t in got)))


def test_items_from_every_row_shape():
    chat = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    assert item_from_row(0, chat) == EvalItem(0, [{"role": "user", "content": "q"}], "a")
    instr = item_from_row(1, {"instruction": "Sum up", "input": "#Person1#: hi", "output": "A greeting."})
    assert instr.messages[0]["content"] == "Sum up\n\n#Person1#: hi" and instr.reference == "A greeting."
    pref = {
        "prompt": [{"role": "user", "content": "q"}],
        "chosen": [{"role": "assistant", "content": "good"}],
        "rejected": [{"role": "assistant", "content": "bad"}],
    }
    assert item_from_row(2, pref).reference == "good"
    with pytest.raises(ValueError, match="row 4"):
        item_from_row(3, {"text": "just text"})
    shots = with_examples(
        [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}],
        [EvalItem(0, [{"role": "user", "content": "q0"}], "a0")],
    )
    assert [m["content"] for m in shots] == ["s", "q0", "a0", "q"]
