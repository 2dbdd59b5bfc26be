"""Dataset rows as evaluation items: the prompt a model answers, the reference its answer is graded on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EvalItem:
    """One row to answer: the conversation so far, and the reference reply ('' when the row has none)."""

    index: int
    messages: list[dict]
    reference: str


def _text(reply: Any) -> str:
    if isinstance(reply, list):  # a completion stored as messages
        return "".join(m.get("content", "") for m in reply if m.get("role") == "assistant") or "".join(
            m.get("content", "") for m in reply
        )
    return str(reply or "")


def item_from_row(index: int, row: dict[str, Any]) -> EvalItem:
    """Chat: everything before the last assistant turn, graded against that turn. Instruction: instruction and
    input, against output. Preference: the prompt, against the chosen reply. Prompt-only: no reference."""
    if "messages" in row:
        messages = list(row["messages"])
        last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
        if last is None:
            return EvalItem(index, messages, "")
        return EvalItem(index, messages[:last], messages[last]["content"])
    if "instruction" in row:
        user = row["instruction"] + (f"\n\n{row['input']}" if row.get("input") else "")
        return EvalItem(index, [{"role": "user", "content": user}], str(row.get("output") or ""))
    if "prompt" in row:
        prompt = row["prompt"]
        messages = list(prompt) if isinstance(prompt, list) else [{"role": "user", "content": str(prompt)}]
        reference = row.get("chosen", row.get("completion", row.get("answer", "")))
        return EvalItem(index, messages, _text(reference))
    raise ValueError(
        f"row {index + 1}: nothing to ask a model (keys {sorted(row)}); a text row has no prompt"
    )


def with_examples(messages: list[dict], examples: list[EvalItem]) -> list[dict]:
    """The in-context baseline: k solved examples as earlier turns, then the question (system turns first)."""
    system = [m for m in messages if m["role"] == "system"]
    shots = []
    for example in examples:
        shots += [m for m in example.messages if m["role"] != "system"]
        shots.append({"role": "assistant", "content": example.reference})
    return system + shots + [m for m in messages if m["role"] != "system"]
