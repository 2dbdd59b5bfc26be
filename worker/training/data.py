"""Rows to training examples: chat templates, and the one row tokenizer of training and the UI preview."""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedTokenizerBase

ALPACA_DEFAULT_SYSTEM = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request."
)

#: ChatML: the template most open chat models use today (and the tiny test models' own)
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

#: jinja chat templates by name; "model" means the tokenizer's own template
TEMPLATES: dict[str, str] = {
    "chatml": CHATML_TEMPLATE,
    "alpaca": (
        "{% set sys = namespace(text='" + ALPACA_DEFAULT_SYSTEM + "') %}"
        "{% for m in messages %}{% if m['role'] == 'system' %}{% set sys.text = m['content'] %}{% endif %}"
        "{% endfor %}{{ sys.text + '\n\n' }}"
        "{% for m in messages %}"
        "{% if m['role'] == 'user' %}{{ '### Instruction:\n' + m['content'] + '\n\n' }}"
        "{% elif m['role'] == 'assistant' %}{{ '### Response:\n' + m['content'] + eos_token + '\n\n' }}"
        "{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '### Response:\n' }}{% endif %}"
    ),
    "llama3": (
        "{{ bos_token or '' }}"
        "{% for m in messages %}"
        "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + m['content'] + '<|eot_id|>' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
    # Gemma has no system role: the system text is prepended to the first user turn, as Google's template does
    "gemma": (
        "{{ bos_token or '' }}{% set sys = namespace(text='') %}"
        "{% for m in messages %}"
        "{% if m['role'] == 'system' %}{% set sys.text = m['content'] + '\n\n' %}"
        "{% else %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
        "{{ '<start_of_turn>' + role + '\n' + sys.text + m['content'] + '<end_of_turn>\n' }}"
        "{% set sys.text = '' %}{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
    ),
}


def template_source(tokenizer: PreTrainedTokenizerBase, template: str) -> str:
    if template == "model":
        if not tokenizer.chat_template:
            raise ValueError(
                "this model's tokenizer has no chat template: choose chat_template chatml, alpaca, "
                "llama3 or gemma"
            )
        return tokenizer.chat_template
    if template not in TEMPLATES:
        raise ValueError(f"unknown chat template '{template}': choose model, {', '.join(TEMPLATES)}")
    return TEMPLATES[template]


def render(messages: list[dict], tokenizer, template: str, *, add_generation_prompt: bool = False) -> str:
    """The conversation as the text the model sees."""
    if not messages:
        return ""
    return tokenizer.apply_chat_template(
        [{"role": m["role"], "content": m["content"]} for m in messages],
        chat_template=template_source(tokenizer, template),
        tokenize=False,
        add_generation_prompt=add_generation_prompt,
    )


def with_system(messages: list[dict], system_prompt: str | None) -> list[dict]:
    if system_prompt and not any(m["role"] == "system" for m in messages):
        return [{"role": "system", "content": system_prompt}, *messages]
    return list(messages)


def row_messages(row: dict[str, Any], *, template: str = "model") -> list[dict]:
    """Chat and instruction rows as a list of messages (instruction -> one user and one assistant turn)."""
    if "messages" in row:
        return list(row["messages"])
    if "instruction" in row:
        user = row["instruction"]
        if row.get("input"):
            # Alpaca keeps the input in its own section; other templates join the two with a blank line
            user += ("\n\n### Input:\n" if template == "alpaca" else "\n\n") + row["input"]
        return [{"role": "user", "content": user}, {"role": "assistant", "content": row.get("output", "")}]
    raise ValueError(f"a row needs 'messages' or 'instruction' (got keys {sorted(row)})")


def _char_mask_from_spans(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    """1 for each token whose characters overlap a span."""
    return [int(any(s < end and e > start for start, end in spans)) if e > s else 0 for s, e in offsets]


def assistant_spans(messages: list[dict], tokenizer, template: str, text: str) -> list[tuple[int, int]]:
    """Character spans of assistant replies, found by rendering prefixes: template-agnostic."""
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render(messages[:i], tokenizer, template, add_generation_prompt=True)
        through = render(messages[: i + 1], tokenizer, template)
        if not (text.startswith(before) and text.startswith(through)):
            # a template that rewrites earlier turns (e.g. drops past reasoning): fall back to the reply text
            start = text.find(message["content"], spans[-1][1] if spans else 0)
            if start >= 0:
                spans.append((start, start + len(message["content"])))
            continue
        spans.append((len(before), len(through)))
    return spans


def tokenize_row(
    row: dict[str, Any],
    tokenizer,
    *,
    template: str,
    max_length: int,
    loss_on: str = "assistant",
    system_prompt: str | None = None,
) -> dict[str, Any]:
    """Render a text, chat or instruction row and mark which tokens carry the loss.

    Returns {"input_ids": [...], "completion_mask": [1 where the token is trained on], "text": str}.
    Text rows are trained on every token and end with EOS so documents stay apart.
    """
    if "text" in row and "messages" not in row:
        text = row["text"] + (tokenizer.eos_token or "")
        ids = tokenizer(text, add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
        return {"input_ids": ids, "completion_mask": [1] * len(ids), "text": text}
    messages = with_system(row_messages(row, template=template), system_prompt)
    text = render(messages, tokenizer, template)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = enc["input_ids"]
    if loss_on == "all":
        mask = [1] * len(ids)
    else:
        mask = _char_mask_from_spans(
            enc["offset_mapping"], assistant_spans(messages, tokenizer, template, text)
        )
    return {"input_ids": ids[:max_length], "completion_mask": mask[:max_length], "text": text}


def preview_row(
    row: dict[str, Any],
    tokenizer,
    *,
    template: str,
    max_length: int,
    loss_on: str = "assistant",
    system_prompt: str | None = None,
) -> dict[str, Any]:
    """What training will see for one row: each token as text with its loss flag (for the UI)."""
    out = tokenize_row(
        row, tokenizer, template=template, max_length=max_length, loss_on=loss_on, system_prompt=system_prompt
    )
    tokens = [
        {"id": i, "token": tokenizer.decode([i]), "loss": bool(m)}
        for i, m in zip(out["input_ids"], out["completion_mask"], strict=True)
    ]
    return {
        "text": out["text"],
        "tokens": tokens,
        "num_tokens": len(tokens),
        "num_loss_tokens": sum(out["completion_mask"]),
    }


def prompt_and_completion(
    prompt: list[dict], completion: list[dict], tokenizer, template: str, system_prompt: str | None = None
) -> tuple[str, str]:
    """Prompt text (with the generation prompt) and the completion text that follows it under the template."""
    prompt = with_system(prompt, system_prompt)
    head = render(prompt, tokenizer, template, add_generation_prompt=True)
    full = render(prompt + completion, tokenizer, template)
    tail = full[len(head) :] if full.startswith(head) else "".join(m["content"] for m in completion)
    eos = tokenizer.eos_token or ""
    # end on EOS exactly: TRL's preference trainers append EOS to any completion that does not end with it
    if eos and tail.rstrip().endswith(eos):
        tail = tail.rstrip()
    return head, tail


def preference_example(
    row: dict, tokenizer, template: str, system_prompt: str | None = None
) -> dict[str, str]:
    """A preference row as TRL's standard (plain text) format {"prompt", "chosen", "rejected"}."""
    prompt, chosen = prompt_and_completion(row["prompt"], row["chosen"], tokenizer, template, system_prompt)
    _, rejected = prompt_and_completion(row["prompt"], row["rejected"], tokenizer, template, system_prompt)
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def unpaired_example(row: dict, tokenizer, template: str, system_prompt: str | None = None) -> dict:
    """An unpaired preference row as {"prompt", "completion", "label"} text."""
    prompt, completion = prompt_and_completion(
        row["prompt"], row["completion"], tokenizer, template, system_prompt
    )
    return {"prompt": prompt, "completion": completion, "label": bool(row["label"])}


def prompt_example(row: dict, tokenizer, template: str, system_prompt: str | None = None) -> dict:
    """A prompt for online RL as {"prompt": text with generation prompt, "answer": reference or ""}.

    Chat and instruction rows work too: everything before the last assistant turn is the prompt and that
    turn's content is the answer.
    """
    if "prompt" in row:
        messages, answer = list(row["prompt"]), row.get("answer") or ""
    else:
        messages = row_messages(row, template=template)
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        messages, answer = messages[:last], messages[last]["content"]
    text = render(with_system(messages, system_prompt), tokenizer, template, add_generation_prompt=True)
    # plain_prompt: the question without template markup, for encoder reward models trained on plain text
    return {"prompt": text, "answer": answer, "plain_prompt": "\n".join(m["content"] for m in messages)}


def truncate_prompt(text: str, tokenizer, max_tokens: int | None) -> str:
    """Keep the end of an over-long prompt: the question nearest the reply matters most."""
    if not max_tokens:
        return text
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return text if len(ids) <= max_tokens else tokenizer.decode(ids[-max_tokens:])
