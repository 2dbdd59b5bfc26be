"""The six normalised row formats: detection from column names, and one normaliser per format.

A normaliser takes one source row (a dict, already column-mapped) and returns the normalised rows it
yields (a list, because an Alpaca seed task with N instances yields N rows), reporting every problem
it finds to the collector instead of stopping at the first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backend.ingest.report import IssueCollector
from backend.ingest.transcripts import split_transcripts

FORMATS = ("text", "instruction", "chat", "preference", "unpaired_preference", "prompt_only")

# ShareGPT speaker names are folded in here too, so `messages` and `conversations` share one path
ROLE_ALIASES = {
    "system": "system",
    "user": "user",
    "assistant": "assistant",
    "human": "user",
    "gpt": "assistant",
}

LABELS = {
    True: True,
    False: False,
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "up": True,
    "down": False,
    "thumbs_up": True,
    "thumbs_down": False,
    "good": True,
    "bad": False,
}

Normaliser = Callable[[dict[str, Any], int, IssueCollector], list[dict[str, Any]]]


def detect_format(keys: set[str] | dict) -> str | None:
    """Guess the format from a row's keys; None when nothing fits."""
    if "messages" in keys or "conversations" in keys:
        return "chat"
    if "chosen" in keys and "rejected" in keys:
        return "preference"
    if "completion" in keys and "label" in keys:
        return "unpaired_preference"
    if "instruction" in keys and ("output" in keys or "instances" in keys):
        return "instruction"
    if "prompt" in keys and ("completion" in keys or "response" in keys):
        return "instruction"  # legacy prompt/completion pairs are instruction data without an input
    if "prompt" in keys:
        return "prompt_only"
    if "text" in keys:
        return "text"
    return None


# ---- shared field checks -------------------------------------------------------------------------


def _text(
    value: Any, row: int, field: str, issues: IssueCollector, *, empty_kind: str = "empty_field"
) -> str | None:
    """A required string field; None (and an issue) when absent, not a string or blank."""
    if value is None:
        issues.add("missing_field", row, field)
        return None
    if type(value) is not str:
        issues.add("wrong_type", row, field, value)
        return None
    if not value.strip():
        issues.add(empty_kind, row, field, value)
        if empty_kind == "empty_field":
            return None
    return value


def _messages(
    value: Any, row: int, field: str, issues: IssueCollector, *, empty_kind: str = "empty_field"
) -> list[dict[str, str]] | None:
    """A list of {role, content} (or ShareGPT {from, value}) messages, normalised; None on any error."""
    if value is None:
        issues.add("missing_field", row, field)
        return None
    if type(value) is not list:
        issues.add("wrong_type", row, field, value)
        return None
    if not value:
        issues.add("empty_field", row, field, value)
        return None
    out = []
    ok = True
    for i, msg in enumerate(value):
        if type(msg) is not dict:
            issues.add("wrong_type", row, f"{field}[{i}]", msg)
            ok = False
            continue
        if "role" in msg:
            role, content, role_key, content_key = msg["role"], msg.get("content"), "role", "content"
        elif "from" in msg:
            role, content, role_key, content_key = msg["from"], msg.get("value"), "from", "value"
        else:
            issues.add("missing_field", row, f"{field}[{i}].role", msg)
            ok = False
            continue
        norm_role = ROLE_ALIASES.get(role) if type(role) is str else None
        if norm_role is None:
            issues.add("unknown_role", row, f"{field}[{i}].{role_key}", role)
            ok = False
        elif norm_role == "system" and i > 0:
            issues.add("system_not_first", row, f"{field}[{i}].{role_key}", content)
        if type(content) is not str:
            issues.add(
                "missing_field" if content is None else "wrong_type",
                row,
                f"{field}[{i}].{content_key}",
                content,
            )
            ok = False
        elif not content.strip():
            issues.add(empty_kind, row, f"{field}[{i}].{content_key}", content)
            ok = ok and empty_kind != "empty_field"
        out.append({"role": norm_role, "content": content})
    return out if ok else None


def _prompt(value: Any, row: int, field: str, issues: IssueCollector) -> list[dict[str, str]] | None:
    """A prompt: a string becomes one user turn; a message list must end with a user turn."""
    if type(value) is str:
        text = _text(value, row, field, issues)
        return None if text is None else [{"role": "user", "content": text}]
    msgs = _messages(value, row, field, issues)
    if msgs is not None and msgs[-1]["role"] != "user":
        issues.add("not_ending_with_user", row, field, msgs[-1]["content"])
        return None
    return msgs


def _response(value: Any, row: int, field: str, issues: IssueCollector) -> list[dict[str, str]] | None:
    """A response: a string becomes one assistant turn; a message list must end with an assistant turn."""
    if type(value) is str:
        text = _text(value, row, field, issues, empty_kind="empty_response")
        return None if text is None else [{"role": "assistant", "content": text}]
    msgs = _messages(value, row, field, issues, empty_kind="empty_response")
    if msgs is not None and msgs[-1]["role"] != "assistant":
        issues.add("not_ending_with_assistant", row, field, msgs[-1]["content"])
        return None
    return msgs


# ---- normalisers ---------------------------------------------------------------------------------


def normalise_text(obj: dict, row: int, issues: IssueCollector) -> list[dict]:
    text = _text(obj.get("text"), row, "text", issues)
    return [] if text is None else [{"text": text}]


def _instruction_row(
    obj: dict, row: int, issues: IssueCollector, instruction: Any, prefix: str
) -> dict | None:
    instruction = _text(instruction, row, "instruction", issues)
    raw_input = obj.get("input")
    if raw_input is None:
        raw_input = ""
    elif type(raw_input) is not str:
        issues.add("wrong_type", row, prefix + "input", raw_input)
        raw_input = None
    output = obj.get("output")
    if output is None:
        output = obj.get("completion", obj.get("response"))
    output = _text(output, row, prefix + "output", issues)
    if instruction is None or raw_input is None or output is None:
        return None
    return {"instruction": instruction, "input": raw_input, "output": output}


def normalise_instruction(obj: dict, row: int, issues: IssueCollector) -> list[dict]:
    instruction = obj.get("instruction", obj.get("prompt"))
    if "instances" in obj and "output" not in obj:
        # Alpaca seed tasks: one instruction, several {input, output} instances -> one row per instance
        instances = obj["instances"]
        if type(instances) is not list:
            issues.add("wrong_type", row, "instances", instances)
            return []
        if not instances:
            issues.add("empty_field", row, "instances", instances)
            return []
        out = []
        for i, inst in enumerate(instances):
            if type(inst) is not dict:
                issues.add("wrong_type", row, f"instances[{i}]", inst)
                continue
            norm = _instruction_row(inst, row, issues, instruction, f"instances[{i}].")
            if norm is not None:
                out.append(norm)
        return out
    norm = _instruction_row(obj, row, issues, instruction, "")
    return [] if norm is None else [norm]


_CANONICAL_ROLES = frozenset(("user", "assistant"))


def _canonical_chat(msgs: Any) -> bool:
    """True when messages are already normalised and valid, so they can be reused without rebuilding.

    The common case of a large upload; anything unusual (a system turn, ShareGPT keys, extra keys, blank
    content) takes the full path in _messages, which also reports it.
    """
    if type(msgs) is not list or not msgs:
        return False
    roles = _CANONICAL_ROLES
    for m in msgs:
        if type(m) is not dict or len(m) != 2:
            return False
        c = m.get("content")
        if m.get("role") not in roles or type(c) is not str or not c.strip():
            return False
    return msgs[-1]["role"] == "assistant"


def normalise_chat(obj: dict, row: int, issues: IssueCollector) -> list[dict]:
    msgs = obj.get("messages")
    if _canonical_chat(msgs):
        return [{"messages": msgs}]
    field = "messages" if "messages" in obj or "conversations" not in obj else "conversations"
    msgs = _messages(obj.get(field), row, field, issues)
    if msgs is None:
        return []
    if msgs[-1]["role"] != "assistant":
        issues.add("not_ending_with_assistant", row, f"{field}[{len(msgs) - 1}]", msgs[-1]["content"])
        return []
    return [{"messages": msgs}]


def _split_conversations(chosen: list, rejected: list, row: int, issues: IssueCollector):
    """Implicit-prompt pairs given as two full conversations: the shared turns up to the last user turn."""
    c = _messages(chosen, row, "chosen", issues, empty_kind="empty_response")
    r = _messages(rejected, row, "rejected", issues, empty_kind="empty_response")
    if c is None or r is None:
        return None
    shared = 0
    while shared < min(len(c), len(r)) and c[shared] == r[shared]:
        shared += 1
    users = [i for i in range(shared) if c[i]["role"] == "user"]
    if not users:
        issues.add("not_ending_with_user", row, "chosen", c[0]["content"])
        return None
    cut = users[-1] + 1
    return c[:cut], c[cut:], r[cut:]


Triple = tuple[list[dict], list[dict], list[dict]]


def _from_transcripts(chosen: str, rejected: str, row: int, issues: IssueCollector) -> Triple | None:
    """HH-RLHF style: two whole transcripts that share the prompt and differ in the last reply."""
    split = split_transcripts(chosen, rejected)
    if split is None:
        issues.add("unsplittable_transcript", row, "chosen", chosen)
        return None
    prompt_msgs, c_text, r_text = split
    if not prompt_msgs or prompt_msgs[-1]["role"] != "user":
        issues.add("not_ending_with_user", row, "chosen", chosen)
        return None
    for name, text in (("chosen", c_text), ("rejected", r_text)):
        if not text:
            issues.add("empty_response", row, name, text)
    return prompt_msgs, [{"role": "assistant", "content": c_text}], [{"role": "assistant", "content": r_text}]


def _from_conversations(chosen: list, rejected: list, row: int, issues: IssueCollector) -> Triple | None:
    """Two message lists sharing their first turns: the shared part is the prompt."""
    split = _split_conversations(chosen, rejected, row, issues)
    if split is None:
        return None
    _, c_msgs, r_msgs = split
    if not c_msgs or not r_msgs or c_msgs[-1]["role"] != "assistant" or r_msgs[-1]["role"] != "assistant":
        issues.add("not_ending_with_assistant", row, "chosen", chosen[-1] if chosen else chosen)
        return None
    return split


def _from_fields(obj: dict, row: int, issues: IssueCollector) -> Triple | None:
    prompt_msgs = _prompt(obj["prompt"], row, "prompt", issues)
    c_msgs = _response(obj["chosen"], row, "chosen", issues)
    r_msgs = _response(obj["rejected"], row, "rejected", issues)
    if prompt_msgs is None or c_msgs is None or r_msgs is None:
        return None
    return prompt_msgs, c_msgs, r_msgs


def normalise_preference(obj: dict, row: int, issues: IssueCollector) -> list[dict]:
    chosen, rejected, prompt = obj.get("chosen"), obj.get("rejected"), obj.get("prompt")
    if chosen is None or rejected is None:
        for name, value in (("chosen", chosen), ("rejected", rejected)):
            if value is None:
                issues.add("missing_field", row, name)
        return []
    if prompt is not None:
        triple = _from_fields(obj, row, issues)
    elif type(chosen) is str and type(rejected) is str:
        triple = _from_transcripts(chosen, rejected, row, issues)
    elif type(chosen) is list and type(rejected) is list:
        triple = _from_conversations(chosen, rejected, row, issues)
    else:
        issues.add("missing_field", row, "prompt")
        return []
    if triple is None:
        return []
    prompt_msgs, c_msgs, r_msgs = triple
    if c_msgs == r_msgs:
        issues.add("identical_chosen_rejected", row, "chosen", c_msgs[-1]["content"])
        return []
    return [{"prompt": prompt_msgs, "chosen": c_msgs, "rejected": r_msgs}]


def parse_label(value: Any) -> bool | None:
    """KTO thumbs: the accepted spellings of up/down; None when it is none of them."""
    key = value.strip().lower() if type(value) is str else value
    try:
        return LABELS.get(key)
    except TypeError:  # unhashable (a list, a dict)
        return None


def normalise_unpaired_preference(obj: dict, row: int, issues: IssueCollector) -> list[dict]:
    prompt = _prompt(obj.get("prompt"), row, "prompt", issues)
    completion = obj.get("completion")
    if completion is None:
        issues.add("missing_field", row, "completion")
        completion_msgs = None
    else:
        completion_msgs = _response(completion, row, "completion", issues)
    raw_label = obj.get("label")
    label = parse_label(raw_label)
    if raw_label is None:
        issues.add("missing_field", row, "label")
    elif label is None:
        issues.add("invalid_label", row, "label", raw_label)
    if prompt is None or completion_msgs is None or label is None:
        return []
    return [{"prompt": prompt, "completion": completion_msgs, "label": label}]


def normalise_prompt_only(obj: dict, row: int, issues: IssueCollector) -> list[dict]:
    prompt = _prompt(obj.get("prompt"), row, "prompt", issues)
    answer = obj.get("answer")
    if answer is not None and type(answer) is not str:
        if type(answer) in (int, float):
            answer = str(answer)  # numeric reference answers (GSM8K-style) compare as text
        else:
            issues.add("wrong_type", row, "answer", answer)
            return []
    if prompt is None:
        return []
    return [{"prompt": prompt} if answer is None else {"prompt": prompt, "answer": answer}]


NORMALISERS: dict[str, Normaliser] = {
    "text": normalise_text,
    "instruction": normalise_instruction,
    "chat": normalise_chat,
    "preference": normalise_preference,
    "unpaired_preference": normalise_unpaired_preference,
    "prompt_only": normalise_prompt_only,
}
