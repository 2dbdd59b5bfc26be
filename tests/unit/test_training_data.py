"""tokenize_row marks exactly the assistant replies as loss tokens, whatever the template."""

import pytest
from transformers import AutoTokenizer

from worker.training.data import TEMPLATES, preview_row, prompt_example, tokenize_row
from worker.training.tiny import build_tiny_model

CHAT = {
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello there"},
        {"role": "assistant", "content": "hi cat"},
        {"role": "user", "content": "2 + 2"},
        {"role": "assistant", "content": "4 apple"},
    ]
}


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return AutoTokenizer.from_pretrained(build_tiny_model(tmp_path_factory.mktemp("tiny")))


def loss_text(out, tok):
    return tok.decode([i for i, m in zip(out["input_ids"], out["completion_mask"], strict=True) if m])


@pytest.mark.parametrize("template", ["model", *TEMPLATES])
def test_only_assistant_tokens_carry_loss(tok, template):
    out = tokenize_row(CHAT, tok, template=template, max_length=512)
    trained = loss_text(out, tok)
    assert "hi cat" in trained and "4 apple" in trained
    for not_trained in ("be brief", "hello there", "2 + 2", "user"):
        assert not_trained not in trained
    assert 0 < sum(out["completion_mask"]) < len(out["input_ids"])
    assert tok.decode(out["input_ids"]) == out["text"]


def test_instruction_rows_and_alpaca_format(tok):
    row = {"instruction": "Add the numbers", "input": "2 and 3", "output": "5"}
    alpaca = tokenize_row(row, tok, template="alpaca", max_length=512)
    assert "### Instruction:\nAdd the numbers" in alpaca["text"] and "### Input:\n2 and 3" in alpaca["text"]
    assert loss_text(alpaca, tok).startswith("5")
    chatml = tokenize_row(row, tok, template="chatml", max_length=512)
    assert "Add the numbers\n\n2 and 3" in chatml["text"]


def test_loss_on_all_truncation_system_prompt_and_text_rows(tok):
    row = {"messages": CHAT["messages"][1:3]}
    everything = tokenize_row(row, tok, template="chatml", max_length=512, loss_on="all")
    assert all(everything["completion_mask"])
    short = tokenize_row(row, tok, template="chatml", max_length=5)
    assert len(short["input_ids"]) == len(short["completion_mask"]) == 5
    with_sys = tokenize_row(row, tok, template="chatml", max_length=512, system_prompt="You are Afina.")
    assert with_sys["text"].startswith("<|im_start|>system\nYou are Afina.")
    text = tokenize_row({"text": "plain words"}, tok, template="model", max_length=512)
    assert all(text["completion_mask"]) and text["input_ids"][-1] == tok.eos_token_id


def test_preview_lists_tokens_with_loss_flags(tok):
    view = preview_row(CHAT, tok, template="chatml", max_length=512)
    assert view["num_tokens"] == len(view["tokens"]) and 0 < view["num_loss_tokens"] < view["num_tokens"]
    assert "".join(t["token"] for t in view["tokens"]) == view["text"]
    assert {"id", "token", "loss"} <= set(view["tokens"][0])


def test_chat_rows_become_rl_prompts(tok):
    ex = prompt_example(CHAT, tok, "chatml")
    assert ex["answer"] == "4 apple" and ex["prompt"].endswith("<|im_start|>assistant\n")
    assert "hi cat" in ex["prompt"]
