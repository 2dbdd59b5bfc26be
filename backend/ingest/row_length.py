"""The length of a normalised row in characters (the API has no tokenizer: characters stand in for tokens)."""

from __future__ import annotations

from collections.abc import Callable

from backend.ingest.formats import detect_format


def _msgs_chars(msgs: list[dict]) -> int:
    return sum([len(m["content"]) for m in msgs])  # a list comprehension beats a generator here


ROW_CHARS: dict[str, Callable[[dict], int]] = {
    "text": lambda r: len(r["text"]),
    "instruction": lambda r: len(r["instruction"]) + len(r["input"]) + len(r["output"]),
    "chat": lambda r: _msgs_chars(r["messages"]),
    "preference": lambda r: (
        _msgs_chars(r["prompt"]) + max(_msgs_chars(r["chosen"]), _msgs_chars(r["rejected"]))
    ),
    "unpaired_preference": lambda r: _msgs_chars(r["prompt"]) + _msgs_chars(r["completion"]),
    "prompt_only": lambda r: _msgs_chars(r["prompt"]) + len(r.get("answer", "")),
}


def row_chars(row: dict) -> int:
    """Characters of content in a normalised row of any format (format inferred from its keys)."""
    fmt = detect_format(row) or "text"
    if fmt == "instruction" and "prompt" in row:
        fmt = "prompt_only"
    return ROW_CHARS[fmt](row)
