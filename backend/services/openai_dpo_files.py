"""OpenAI's preference-file layout for DPO, read as Afina preference rows.

OpenAI's DPO lines are `{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output":
[...]}`; Afina's preference rows are `{"prompt": [...], "chosen": [...], "rejected": [...]}`. A file in
OpenAI's layout is rewritten line for line before the usual validation: a line that is not such an object
is kept as it is, so the validation report names the same line numbers as the uploaded file.
"""

from __future__ import annotations

import json
from pathlib import Path

#: Afina's field -> OpenAI's, to name fields in a refusal as the user wrote them
FIELDS = {"prompt": "input.messages", "chosen": "preferred_output", "rejected": "non_preferred_output"}
_MARKERS = ("preferred_output", "non_preferred_output")


def _lines(fh, max_line: int):
    """The file's lines, each whole when at most `max_line` bytes, else as pieces (`False` with each piece:
    a line too long to read is passed through untouched, for the validation to refuse by its own limit)."""
    while raw := fh.readline(max_line + 1):
        if len(raw) <= max_line or raw.endswith(b"\n"):
            yield raw, True
            continue
        yield raw, False
        while raw and not raw.endswith(b"\n"):
            raw = fh.readline(1 << 20)
            yield raw, False


def _first_object(path: Path, max_line: int) -> dict | None:
    with path.open("rb") as fh:
        for raw, whole in _lines(fh, max_line):
            if not whole:
                return None
            if raw.strip():
                try:
                    value = json.loads(raw)
                except ValueError:
                    return None
                return value if isinstance(value, dict) else None
    return None


def is_openai_dpo(path: Path, max_line: int) -> bool:
    """Whether the file's first row is in OpenAI's DPO layout (gzip and other formats are not)."""
    first = _first_object(path, max_line)
    return first is not None and any(key in first for key in _MARKERS)


def _row(line: bytes) -> bytes:
    try:
        value = json.loads(line)
    except ValueError:
        return line
    if not isinstance(value, dict) or not any(key in value for key in (*_MARKERS, "input")):
        return line
    given = value.get("input")
    row = {"prompt": given.get("messages") if isinstance(given, dict) else given}
    if "preferred_output" in value:
        row["chosen"] = value["preferred_output"]
    if "non_preferred_output" in value:
        row["rejected"] = value["non_preferred_output"]
    return json.dumps(row, ensure_ascii=False).encode() + b"\n"


def convert(source: Path, dest: Path, max_line: int) -> None:
    """Rewrite an OpenAI DPO file as Afina preference rows, one output line per input line."""
    with source.open("rb") as src, dest.open("wb") as out:
        for line, whole in _lines(src, max_line):
            out.write(_row(line) if whole and line.strip() else line)


def openai_field(field: str | None) -> str | None:
    """A field of a converted row (`chosen[0].content`) as it is called in the uploaded file."""
    if not field:
        return field
    for ours, theirs in FIELDS.items():
        if field == ours or field.startswith((ours + "[", ours + ".")):
            return theirs + field[len(ours) :]
    return field
