"""The ingestion report: issue kinds, their user-facing messages, and the collector that caps examples."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

MAX_EXAMPLES = 5  # enough to show a pattern without flooding the UI
PREVIEW_CHARS = 80

# kind -> what the user should do about it. One place, so the API, the UI and the docs say the same thing.
MESSAGES: dict[str, str] = {
    "empty_file": "The file is empty. Upload a file that contains at least one row.",
    "no_rows": "No usable rows were found. Check that the file holds JSON objects, CSV rows or Parquet rows.",
    "unreadable_file": "The file could not be read (corrupt or truncated). Re-export it and upload again.",
    "unknown_format": "Could not tell the data format from the columns. Rename the columns, or pass "
    "format= and a column mapping.",
    "invalid_encoding": "The row is not valid UTF-8. Re-save the file as UTF-8.",
    "invalid_json": "The row is not valid JSON. Fix the syntax on that line (missing quote, comma or brace).",
    "not_an_object": "Each row must be a JSON object ({...}). Wrap the value in an object with the fields.",
    "missing_field": "A required field is missing. Add it, or map an existing column to it.",
    "empty_field": "A required field is empty. Fill it in or drop the row.",
    "wrong_type": "A field has the wrong type (for example a number where text is expected). Fix its value.",
    "unknown_role": "A message role is not one of system, user, assistant (ShareGPT: system, human, gpt). "
    "Rename the role.",
    "not_ending_with_assistant": "A conversation must end with an assistant turn, the one the model learns. "
    "Add the assistant reply or drop the trailing turns.",
    "not_ending_with_user": "A prompt must end with a user turn. Move the trailing assistant turns into the "
    "responses or drop them.",
    "identical_chosen_rejected": "The chosen and rejected responses are identical, so the pair teaches "
    "nothing. Fix or drop the row.",
    "unsplittable_transcript": "Could not find a shared '\\n\\nAssistant:' turn to split the prompt from the "
    "responses. Give the prompt in its own 'prompt' field.",
    "invalid_label": "The label must be true/false, 1/0, up/down, thumbs_up/thumbs_down or good/bad.",
    "too_long": "The row is longer than the length limit. Shorten it, split it, or raise max_chars.",
    # warnings
    "duplicate_row": "The row repeats an earlier row exactly. Consider running exact dedup.",
    "system_not_first": "A system message appears after the first turn; most chat templates expect it first.",
    "empty_response": "A chosen or rejected response is empty. Kept: an empty reply can be preferred.",
    "blank_line": "Blank lines were skipped.",
    "duplicate_check_capped": "The file has more rows than the duplicate check tracks; later rows were not "
    "checked for duplicates.",
}


class Example(BaseModel):
    """One offending row: where it is and what it held."""

    row: int | None = Field(description="1-based line (JSONL/CSV) or element index (JSON array/Parquet).")
    field: str | None = Field(default=None, description="The field at fault, e.g. messages[2].role.")
    preview: str = Field(default="", description="A short preview of the offending value.")


class Issue(BaseModel):
    """All occurrences of one kind of problem, with the first few examples."""

    kind: str
    severity: Literal["error", "warning"]
    count: int
    message: str
    examples: list[Example]


class IngestReport(BaseModel):
    """What ingest_file found: the format, the counts, the issues and stats of the normalised output."""

    filename: str
    format: str | None = Field(
        description="text, instruction, chat, preference, unpaired_preference, prompt_only."
    )
    format_detected: bool = Field(description="True when the format came from the columns, not format=.")
    valid: bool
    row_count: int = Field(description="Normalised rows written (Alpaca instances count one each).")
    source_rows: int = Field(description="Rows read from the source file.")
    errors: list[Issue]
    warnings: list[Issue]
    stats: dict[str, Any]

    def summary(self) -> str:
        """One line per issue, for logs and CLI output."""
        lines = [f"{self.filename}: {self.format} rows={self.row_count} valid={self.valid}"]
        for issue in self.errors + self.warnings:
            rows = ", ".join(str(e.row) for e in issue.examples)
            lines.append(f"  {issue.severity} {issue.kind} x{issue.count} (rows {rows}): {issue.message}")
        return "\n".join(lines)


class DatasetInvalid(Exception):
    """Raised by ingest_file when the upload has errors; carries the full report."""

    def __init__(self, report: IngestReport):
        self.report = report
        kinds = ", ".join(f"{i.kind} x{i.count}" for i in report.errors)
        super().__init__(f"{report.filename} is not a valid dataset: {kinds}")


def preview(value: Any) -> str:
    """A short, single-line rendering of a value for an example."""
    if isinstance(value, bytes):
        text = value[: PREVIEW_CHARS * 2].decode("utf-8", "backslashreplace")
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = orjson.dumps(value, default=str).decode()
        except TypeError:
            text = repr(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


class IssueCollector:
    """Counts issues by kind and keeps the first MAX_EXAMPLES of each; errors vs warnings by kind."""

    def __init__(self, warning_kinds: set[str]):
        self._warning_kinds = warning_kinds
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[Example]] = {}
        self.error_count = 0

    def add(self, kind: str, row: int | None, field: str | None = None, value: Any = "") -> None:
        n = self.counts.get(kind, 0)
        self.counts[kind] = n + 1
        if kind not in self._warning_kinds:
            self.error_count += 1
        if n < MAX_EXAMPLES:
            self.examples.setdefault(kind, []).append(Example(row=row, field=field, preview=preview(value)))

    def absorb(self, kind: str, count: int, examples: list[Example]) -> None:
        """Add ``count`` occurrences found elsewhere (a later byte range), with their first examples."""
        self.counts[kind] = self.counts.get(kind, 0) + count
        if kind not in self._warning_kinds:
            self.error_count += count
        kept = self.examples.setdefault(kind, [])
        kept.extend(examples[: max(0, MAX_EXAMPLES - len(kept))])

    def issues(self, severity: Literal["error", "warning"]) -> list[Issue]:
        out = []
        for kind, count in self.counts.items():
            is_warning = kind in self._warning_kinds
            if (severity == "warning") != is_warning:
                continue
            out.append(
                Issue(
                    kind=kind,
                    severity=severity,
                    count=count,
                    message=MESSAGES.get(kind, kind),
                    examples=self.examples.get(kind, []),
                )
            )
        return out
