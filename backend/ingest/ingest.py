"""ingest_file: read an upload, detect or apply its format, validate every row, write normalised JSONL."""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import xxhash

from backend.ingest.atomic import atomic_output
from backend.ingest.formats import FORMATS, NORMALISERS, ROW_CHARS, detect_format
from backend.ingest.mapping import compile_mapping
from backend.ingest.readers import READ_ERRORS, open_source
from backend.ingest.report import DatasetInvalid, IngestReport, IssueCollector

WARNING_KINDS = {"duplicate_row", "system_not_first", "empty_response", "blank_line", "duplicate_check_capped"}
DETECT_ROWS = 20  # rows sampled to guess the format: a vote, so one odd first row does not decide it
# exact-duplicate warnings keep one 64-bit hash per row; the cap bounds that memory (~70 MB) on huge files
DUPLICATE_CHECK_ROWS = 1_000_000
# bytes per hand-over to the writer thread: large enough to amortise the queue, small enough that the few
# batches in flight (and allocator fragmentation across threads) stay a few MB
WRITE_BATCH_BYTES = 1 << 20


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
) -> IngestReport:
    """Validate ``src`` and write it to ``dest`` as normalised JSONL; raise DatasetInvalid on any error.

    ``report = ingest_file("up.bin", "ds.jsonl", filename="dialogsum.jsonl", mapping={"input": "dialogue",
    "output": "summary"}, templates={"instruction": "Summarize the following conversation."})``

    filename: the name the user uploaded (its extension is a hint; the bytes decide first).
    format: one of FORMATS; None detects it from the columns of the first rows.
    mapping / templates: see backend.ingest.mapping.
    max_chars: rows whose content is longer are ``too_long`` (errors, or warnings if not too_long_is_error).
    Nothing is left at ``dest`` unless the whole file is valid.
    """
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    started = time.perf_counter()
    src, dest = Path(src), Path(dest)
    mapper = compile_mapping(mapping, templates)  # raises ValueError on a malformed template: a caller bug
    warning_kinds = set(WARNING_KINDS) if too_long_is_error else WARNING_KINDS | {"too_long"}
    issues = IssueCollector(warning_kinds)
    state: dict[str, Any] = {"format": format, "detected": False, "source_rows": 0, "row_count": 0,
                             "columns": [], "container": None, "compression": None, "chars": None}
    source_bytes = src.stat().st_size
    output = {"bytes": 0, "sha256": None}

    if source_bytes == 0:
        issues.add("empty_file", None)
    else:
        with open_source(src, filename, issues) as source, atomic_output(dest) as out:
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
    """The hot loop. Kept flat, with locals bound up front, because it runs once per row of a 1 GB file."""
    head: list = []
    try:
        head.extend(itertools.islice(rows, DETECT_ROWS))
    except READ_ERRORS as exc:
        issues.add("unreadable_file", head[-1][0] + 1 if head else 1, None, f"{type(exc).__name__}: {exc}")
        return
    if not head:
        if "empty_file" not in issues.counts and not issues.error_count:
            issues.add("no_rows", None)
        return
    columns = dict.fromkeys(state["columns"])
    if mapper is not None:
        head = [(n, _map(mapper, obj, n, issues)) for n, obj in head]
    fmt = state["format"]
    if fmt is None:
        votes = Counter(detect_format(obj) for _, obj in head if isinstance(obj, dict))
        votes.pop(None, None)
        if not votes:
            keys = sorted({k for _, obj in head if isinstance(obj, dict) for k in obj})
            issues.add("unknown_format", head[0][0], None, "columns: " + ", ".join(keys))
            state["columns"] = list(dict.fromkeys(state["columns"] + keys))
            return
        fmt = votes.most_common(1)[0][0]
        state["format"], state["detected"] = fmt, True
    normalise, chars_of = NORMALISERS[fmt], ROW_CHARS[fmt]
    dumps, hash64 = orjson.dumps, xxhash.xxh3_64_intdigest
    add = issues.add
    seen: set[int] = set()
    seen_add = seen.add
    batch: list[bytes] = []
    batch_bytes = 0
    source_rows = row_count = 0
    min_chars, max_seen, total_chars = None, 0, 0
    last_keys: tuple = ()
    rest = rows if mapper is None else ((n, _map(mapper, obj, n, issues)) for n, obj in rows)

    for rowno, obj in itertools.chain(head, rest):
        source_rows += 1
        if type(obj) is not dict:
            if obj is not None:  # None: the mapper already reported the missing column
                add("not_an_object", rowno, None, obj)
            continue
        keys = tuple(obj)
        if keys != last_keys:  # cheap column census: most files repeat one key order
            last_keys = keys
            for k in keys:
                columns.setdefault(k)
        for row in normalise(obj, rowno, issues):
            n_chars = chars_of(row)
            total_chars += n_chars
            if min_chars is None or n_chars < min_chars:
                min_chars = n_chars
            max_seen = max(max_seen, n_chars)
            if max_chars is not None and n_chars > max_chars:
                add("too_long", rowno, None, f"{n_chars} chars > max_chars={max_chars}")
            line = dumps(row)
            if row_count < DUPLICATE_CHECK_ROWS:
                h = hash64(line)
                if h in seen:
                    add("duplicate_row", rowno, None, line)
                else:
                    seen_add(h)
            elif row_count == DUPLICATE_CHECK_ROWS:
                add("duplicate_check_capped", rowno)
            row_count += 1
            if not issues.error_count:  # once invalid, keep validating but stop writing
                batch.append(line)
                batch_bytes += len(line)
                if batch_bytes >= WRITE_BATCH_BYTES:
                    out.write_lines(batch)  # handed to the writer thread: start a new list
                    batch, batch_bytes = [], 0
    if batch and not issues.error_count:
        out.write_lines(batch)
    if source_rows and not row_count and not issues.error_count:
        issues.add("no_rows", None)
    state.update(source_rows=source_rows, row_count=row_count, columns=list(columns),
                 chars={"min": min_chars or 0, "max": max_seen,
                        "mean": round(total_chars / row_count, 1) if row_count else 0})


def _map(mapper, obj: Any, rowno: int, issues: IssueCollector) -> Any:
    if type(obj) is not dict:
        return obj
    mapped, missing = mapper(obj)
    for column in missing:
        issues.add("missing_field", rowno, column)
    return None if missing else mapped


def _report(filename: str, state: dict, issues: IssueCollector, source_bytes: int, output: dict,
            elapsed: float) -> IngestReport:
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
