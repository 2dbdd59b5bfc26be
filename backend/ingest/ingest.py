"""ingest_file: read an upload, detect or apply its format, validate every row, write normalised JSONL."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from typing import Any

from backend.ingest import parallel
from backend.ingest.atomic import atomic_output
from backend.ingest.formats import FORMATS
from backend.ingest.limits import LimitExceeded, Limits
from backend.ingest.mapping import compile_mapping
from backend.ingest.readers import READ_ERRORS, open_source
from backend.ingest.report import DatasetInvalid, IngestReport, IssueCollector
from backend.ingest.validate import DETECT_ROWS, RowValidator, map_row, map_rows, vote_format

WARNING_KINDS = {
    "duplicate_row",
    "system_not_first",
    "empty_response",
    "blank_line",
    "duplicate_check_capped",
}
# exact-duplicate warnings keep one 64-bit hash per row; the cap bounds that memory (~70 MB) on huge files
DUPLICATE_CHECK_ROWS = 1_000_000


def ingest_file(
    src: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    filename: str,
    format: str | None = None,
    mapping: dict[str, str] | None = None,
    templates: dict[str, str] | None = None,
    max_chars: int | None = None,
    too_long_is_error: bool = True,
    limits: Limits | None = None,
) -> IngestReport:
    """Validate ``src`` and write it to ``dest`` as normalised JSONL; raise DatasetInvalid on any error.

    ``report = ingest_file("up.bin", "ds.jsonl", filename="dialogsum.jsonl", mapping={"input": "dialogue",
    "output": "summary"}, templates={"instruction": "Summarize the following conversation."})``

    filename: the name the user uploaded (its extension is a hint; the bytes decide first).
    format: one of FORMATS; None detects it from the columns of the first rows.
    mapping / templates: see backend.ingest.mapping.
    max_chars: rows whose content is longer are ``too_long`` (errors, or warnings if not too_long_is_error).
    limits: refuse the file (LimitExceeded) as soon as reading it passes one of them.
    Nothing is left at ``dest`` unless the whole file is valid.
    """
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    started = time.perf_counter()
    src, dest = Path(src), Path(dest)
    mapper = compile_mapping(mapping, templates)  # raises ValueError on a malformed template: a caller bug
    warning_kinds = set(WARNING_KINDS) if too_long_is_error else WARNING_KINDS | {"too_long"}
    issues = IssueCollector(warning_kinds)
    state: dict[str, Any] = {
        "format": format,
        "detected": False,
        "source_rows": 0,
        "row_count": 0,
        "columns": [],
        "container": None,
        "compression": None,
        "chars": None,
    }
    source_bytes = src.stat().st_size
    if limits and limits.max_upload_bytes and source_bytes > limits.max_upload_bytes:
        raise LimitExceeded("max_upload_bytes", limits.max_upload_bytes, "the file is larger than the limit")
    output = {"bytes": 0, "sha256": None}

    if source_bytes == 0:
        issues.add("empty_file", None)
    elif (plan := parallel.plan(src, filename, source_bytes, format, mapper, limits)) is not None:
        # a big plain JSONL file: validated by byte ranges on every core, same report and bytes
        with atomic_output(dest) as out:
            state["container"] = "jsonl"
            if format is None:
                state["format"], state["detected"] = plan.fmt, True
            parallel.run(
                src,
                out,
                plan,
                mapping=mapping,
                templates=templates,
                mapper=mapper,
                issues=issues,
                state=state,
                max_chars=max_chars,
                warning_kinds=warning_kinds,
                dup_cap=DUPLICATE_CHECK_ROWS,
                limits=limits,
            )
            if issues.error_count:
                out.abandon()
        if not issues.error_count:
            output["bytes"], output["sha256"] = out.bytes_written, out.sha256
    else:
        with open_source(src, filename, issues, limits) as source, atomic_output(dest) as out:
            state["container"], state["compression"] = source.container, source.compression
            state["columns"] = list(source.columns)
            _run(source.rows, out, mapper, issues, state, max_chars)
            if issues.error_count:
                out.abandon()
        if not issues.error_count:
            output["bytes"], output["sha256"] = out.bytes_written, out.sha256
    report = _report(filename, state, issues, source_bytes, output, time.perf_counter() - started)
    if not report.valid:
        raise DatasetInvalid(report)
    return report


def _run(rows, out, mapper, issues: IssueCollector, state: dict, max_chars: int | None) -> None:
    """Read the first rows, settle the format, then validate every row in one pass."""
    head: list = []
    try:
        head.extend(itertools.islice(rows, DETECT_ROWS))  # extend keeps the rows read before a failure
    except READ_ERRORS as exc:
        issues.add("unreadable_file", head[-1][0] + 1 if head else 1, None, f"{type(exc).__name__}: {exc}")
        return
    if not head:
        if "empty_file" not in issues.counts and not issues.error_count:
            issues.add("no_rows", None)
        return
    if mapper is not None:
        head = [(n, map_row(mapper, obj, n, issues)) for n, obj in head]
    fmt = state["format"]
    if fmt is None:
        fmt = vote_format(head)
        if fmt is None:
            keys = sorted({k for _, obj in head if isinstance(obj, dict) for k in obj})
            issues.add("unknown_format", head[0][0], None, "columns: " + ", ".join(keys))
            state["columns"] = list(dict.fromkeys(state["columns"] + keys))
            return
        state["format"], state["detected"] = fmt, True
    validator = RowValidator(
        fmt, issues, max_chars=max_chars, columns=state["columns"], dup_cap=DUPLICATE_CHECK_ROWS
    )
    validator.feed(itertools.chain(head, map_rows(mapper, rows, issues)), out.write_lines)
    validator.finish(state)


def _report(
    filename: str, state: dict, issues: IssueCollector, source_bytes: int, output: dict, elapsed: float
) -> IngestReport:
    errors = issues.issues("error")
    return IngestReport(
        filename=filename,
        format=state["format"],
        format_detected=state["detected"],
        valid=not errors,
        row_count=state["row_count"],
        source_rows=state["source_rows"],
        errors=errors,
        warnings=issues.issues("warning"),
        stats={
            "source_bytes": source_bytes,
            "output_bytes": output["bytes"],
            "sha256": output["sha256"],
            "container": state["container"],
            "compression": state["compression"],
            "columns": state["columns"],
            "chars": state["chars"],
            "elapsed_s": round(elapsed, 3),
            "mb_per_s": round(source_bytes / 1e6 / elapsed, 1) if elapsed > 0 else None,
        },
    )


__all__ = ["DatasetInvalid", "ingest_file"]
