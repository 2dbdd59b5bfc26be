"""Parallel ingest of a large plain JSONL file: newline-aligned byte ranges validated in worker processes.

The result is the same report and the same bytes as the single-process pass, because everything that
crosses a range boundary is settled in row order in the parent:

- the parent reads the first rows once to settle the format, then validates range 0 itself, straight
  into the destination, while workers ('spawn' processes: the API process may run threads) take the rest;
- a worker writes its normalised lines to a part file and returns its issue counts and first examples
  (row numbers local to its range, renumbered by the parent from the line counts of the ranges before),
  the row at which each issue kind first appeared, and the 64-bit hash and row of its first rows;
- the parent merges ranges in order: it checks those hashes against every earlier row (so duplicate_row
  and duplicate_check_capped fire exactly where one pass would fire them), slots each issue kind in
  where one pass would have met it first, and appends the part to the destination, which hashes it;
- workers take ranges from the end of the file and the parent from the start, in-process and straight
  into the destination, until they meet: only the workers' ranges go through part files.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import tempfile
from array import array
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.ingest.atomic import AtomicOutput
from backend.ingest.duplicates import check_duplicates, part_lines
from backend.ingest.limits import LimitExceeded, Limits
from backend.ingest.mapping import compile_mapping
from backend.ingest.readers import (
    BOM,
    GZIP_MAGIC,
    PARQUET_MAGIC,
    READ_ERRORS,
    find_line_start,
    jsonl_rows,
    open_range,
)
from backend.ingest.report import MAX_EXAMPLES, Example, IssueCollector, preview
from backend.ingest.validate import DETECT_ROWS, RowValidator, map_row, map_rows, vote_format

# below this a second process costs more (≈0.7 s to start and import) than it saves
PARALLEL_MIN_BYTES = 64 << 20
# a range per task: small enough that where parent and workers meet neither waits long on the other (a
# pool holds one range queued per worker), large enough that the per-range cost (a task round trip, a
# part file, one merge) stays well under 1 %
RANGE_BYTES = 16 << 20
# each worker is ~80 MB of interpreter and imports; 2 keeps parent + workers well under the 500 MB target
MAX_WORKERS = 2
COPY_BYTES = 1 << 20  # part files are appended to the destination in blocks of this size


@dataclass
class Plan:
    """A file worth splitting: its format, and the byte ranges to validate."""

    fmt: str
    ranges: list[tuple[int, int]]
    workers: int


@dataclass
class RangeTask:
    path: str
    start: int
    end: int
    part: str
    fmt: str
    mapping: dict[str, str] | None
    templates: dict[str, str] | None
    max_chars: int | None
    warning_kinds: frozenset[str]
    dup_cap: int
    limits: Limits | None = None


@dataclass
class RangeResult:
    """What a worker found in its range; rows are local (line 1 is the range's first line)."""

    lines: int
    source_rows: int
    row_count: int
    min_chars: int | None
    max_chars: int
    total_chars: int
    columns: list[str]
    counts: dict[str, int]  # in the order each kind first appeared in the range
    examples: dict[str, list[Example]]
    first_at: dict[str, int]  # kind -> rows checked for duplicates before it first appeared
    hashes: array  # hash of each of the range's first dup_cap + 1 normalised lines
    hash_rows: array  # ... and the source row it came from
    part: str


class _RangeIssues(IssueCollector):
    """An IssueCollector that also notes how far the duplicate check had got when each kind first appeared,
    so the parent can slot a duplicate_row found later into the same order one pass would have given."""

    def __init__(self, warning_kinds: set[str] | frozenset[str]):
        super().__init__(set(warning_kinds))
        self.first_at: dict[str, int] = {}
        self.checked: array = array("Q")

    def add(self, kind: str, row: int | None, field: str | None = None, value: Any = "") -> None:
        if kind not in self.counts:
            self.first_at[kind] = len(self.checked)
        super().add(kind, row, field, value)


def plan(
    src: Path, filename: str, size: int, fmt: str | None, mapper, limits: Limits | None = None
) -> Plan | None:
    """A Plan when ``src`` is a plain JSONL file big enough to split and its format is settled; else None
    (gzip, other containers, small files, or a head that one pass must report on, e.g. unknown_format)."""
    workers = min(MAX_WORKERS, _cpus() - 1)
    if size < PARALLEL_MIN_BYTES or workers < 1:
        return None
    with open(src, "rb") as f:
        start = f.read(4096)
    if start[:2] == GZIP_MAGIC or start[:4] == PARQUET_MAGIC or filename.lower().endswith((".csv", ".tsv")):
        return None
    first = start.removeprefix(BOM).lstrip()[:1]
    if first != b"{" and not (first != b"[" and filename.lower().endswith((".jsonl", ".json", ".ndjson"))):
        return None  # the same container guess as readers._guess_container, on the same 4 KiB
    scratch = IssueCollector(set())
    try:
        with open_range(src, 0, size, limits) as stream:
            head = list(itertools.islice(jsonl_rows(stream, scratch), DETECT_ROWS))
            head_end = stream.tell()
    except READ_ERRORS:
        return None
    if not head:
        return None
    if mapper is not None:
        head = [(n, map_row(mapper, obj, n, scratch)) for n, obj in head]
    fmt = fmt or vote_format(head)
    if fmt is None:
        return None
    # range 0 holds at least the head, so its issues come first exactly as in one pass
    bounds = [0]
    with open(src, "rb") as f:
        pos = max(head_end, RANGE_BYTES)
        while pos < size:
            cut = find_line_start(f, pos, size)
            if cut >= size:
                break
            bounds.append(cut)
            pos = cut + RANGE_BYTES
    bounds.append(size)
    ranges = list(itertools.pairwise(bounds))
    if len(ranges) < 2:
        return None
    return Plan(fmt, ranges, min(workers, len(ranges) - 1))


def _cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. under taskset), not all the machine has."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def validate_range(task: RangeTask) -> RangeResult:
    """Worker entry point: validate one byte range into its part file, deferring the duplicate check."""
    issues = _RangeIssues(task.warning_kinds)
    validator = RowValidator(
        task.fmt,
        issues,
        max_chars=task.max_chars,
        columns=(),
        dup_cap=task.dup_cap + 1,
        defer_duplicates=True,
    )
    issues.checked = validator.hashes
    mapper = compile_mapping(task.mapping, task.templates)
    lines: list[int] = []
    with open_range(task.path, task.start, task.end, task.limits) as stream, open(task.part, "wb") as part:

        def write(batch: list[bytes]) -> None:
            part.write(b"\n".join(batch) + b"\n")

        rows = jsonl_rows(stream, issues, strip_bom=False, lines_out=lines)
        validator.feed(map_rows(mapper, rows, issues), write, keep_writing=True)
    return RangeResult(
        lines=lines[0],
        source_rows=validator.source_rows,
        row_count=validator.row_count,
        min_chars=validator.min_chars,
        max_chars=validator.max_chars_seen,
        total_chars=validator.total_chars,
        columns=list(validator.columns),
        counts=issues.counts,
        examples=issues.examples,
        first_at=issues.first_at,
        hashes=validator.hashes,
        hash_rows=validator.hash_rows,
        part=task.part,
    )


def run(
    src: Path,
    out: AtomicOutput,
    the_plan: Plan,
    *,
    mapping,
    templates,
    mapper,
    issues: IssueCollector,
    state: dict,
    max_chars: int | None,
    warning_kinds: set[str],
    dup_cap: int,
    limits: Limits | None = None,
) -> None:
    """Validate ``src`` by ranges into ``out``; same effect on issues and state as ingest._run."""
    ranges, fmt = the_plan.ranges, the_plan.fmt
    validator = RowValidator(fmt, issues, max_chars=max_chars, columns=state["columns"], dup_cap=dup_cap)
    with (
        tempfile.TemporaryDirectory(dir=out.tmp.parent, prefix=f".{out.dest.name}.ranges.") as parts,
        ProcessPoolExecutor(the_plan.workers, mp_context=multiprocessing.get_context("spawn")) as pool,
    ):
        try:
            tasks = [
                RangeTask(
                    str(src),
                    a,
                    b,
                    os.path.join(parts, f"{k}.jsonl"),
                    fmt,
                    mapping,
                    templates,
                    max_chars,
                    frozenset(warning_kinds),
                    dup_cap,
                    limits,
                )
                for k, (a, b) in enumerate(ranges)
            ]
            # workers take ranges from the end of the file, the parent from the start: the parent writes
            # its ranges straight into out, and only the workers' ranges go through part files
            futures = _submit(pool, tasks[:0:-1])[::-1]
            lines = 0
            for k in range(len(ranges)):
                with _rows_from(lines):
                    future = futures[k - 1] if k else None
                    if future is None or future.cancel():  # no worker has started it: validate it here
                        lines += _validate_here(src, ranges[k], lines, validator, mapper, out, limits, k == 0)
                    else:
                        result = _result(future, tasks[k])
                        _merge(result, lines, validator, issues, out)
                        lines += result.lines
                if limits and limits.max_rows and validator.source_rows > limits.max_rows:
                    raise LimitExceeded("max_rows", limits.max_rows, "the file has more rows than the limit")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    validator.finish(state)


@contextlib.contextmanager
def _rows_from(first_line: int) -> Iterator[None]:
    """Make the row of a LimitExceeded raised in a range (numbered from the range's start) file-wide."""
    try:
        yield
    except LimitExceeded as exc:
        if exc.row is not None:
            exc.row += first_line
        raise


def _submit(pool: ProcessPoolExecutor, tasks: list[RangeTask]) -> list[Future | None]:
    """Queue the ranges on the pool; None for those it would not take (e.g. a daemonic caller, such as a
    prefork Celery worker, may not start processes): the parent validates those itself."""
    futures: list[Future | None] = []
    for task in tasks:
        try:
            futures.append(pool.submit(validate_range, task))
        except (AssertionError, OSError, RuntimeError, BrokenProcessPool):
            futures.append(None)
    return futures


def _result(future: Future, task: RangeTask) -> RangeResult:
    """A worker's result; if the pool broke (a worker died, or could not start), redo the range here."""
    try:
        return future.result()
    except BrokenProcessPool:
        return validate_range(task)


def _validate_here(
    src: Path,
    byte_range: tuple[int, int],
    first_line: int,
    validator: RowValidator,
    mapper,
    out: AtomicOutput,
    limits: Limits | None = None,
    first: bool = False,
) -> int:
    """Validate one range in this process, continuing the file-wide state; returns its line count."""
    issues = validator.issues
    lines: list[int] = []
    with open_range(src, *byte_range, limits) as stream:
        rows: Iterator = jsonl_rows(stream, issues, first_line=first_line, strip_bom=first, lines_out=lines)
        if first:  # as one pass does: the head is read, then mapped, before any row is validated
            head = list(itertools.islice(rows, DETECT_ROWS))
            if mapper is not None:
                head = [(n, map_row(mapper, obj, n, issues)) for n, obj in head]
            rows = itertools.chain(head, map_rows(mapper, rows, issues))
        else:
            rows = map_rows(mapper, rows, issues)
        validator.feed(rows, out.write_lines)
    return lines[0]


def _merge(
    result: RangeResult, line_offset: int, validator: RowValidator, issues: IssueCollector, out: AtomicOutput
) -> None:
    """Fold a worker's range into the file-wide state, in row order, and append its part to ``out``."""
    hash_rows = result.hash_rows
    room = MAX_EXAMPLES - len(issues.examples.get("duplicate_row", ()))
    dup_count, dup_at, dup_first, capped_at = check_duplicates(result.hashes, validator, room)

    # each kind new to the file goes in where one pass would first have met it: a kind the worker saw
    # with ``first_at`` rows checked precedes the duplicate check of row first_at, and follows the rest
    order = [(first, 0, kind) for kind, first in result.first_at.items()]
    if dup_count:
        order.append((dup_at, 1, "duplicate_row"))
    if capped_at >= 0:
        order.append((capped_at, 1, "duplicate_check_capped"))
    order.sort(key=lambda item: item[:2])  # stable: kinds of equal rank keep the worker's order
    dup_lines = part_lines(result.part, dup_first)
    for _, _, kind in order:
        if kind == "duplicate_row":
            examples = [
                Example(row=hash_rows[i] + line_offset, preview=preview(dup_lines[i])) for i in dup_first
            ]
            issues.absorb(kind, dup_count, examples)
        elif kind == "duplicate_check_capped":
            issues.absorb(kind, 1, [Example(row=hash_rows[capped_at] + line_offset, preview=preview(""))])
        else:
            issues.absorb(
                kind,
                result.counts[kind],
                [
                    e.model_copy(update={"row": None if e.row is None else e.row + line_offset})
                    for e in result.examples.get(kind, ())
                ],
            )

    validator.source_rows += result.source_rows
    validator.row_count += result.row_count
    if result.min_chars is not None and (
        validator.min_chars is None or result.min_chars < validator.min_chars
    ):
        validator.min_chars = result.min_chars
    validator.max_chars_seen = max(validator.max_chars_seen, result.max_chars)
    validator.total_chars += result.total_chars
    for column in result.columns:
        validator.columns.setdefault(column)
    validator.last_keys = ()  # the census restarts on the next row; it only ever adds missing keys

    if not issues.error_count:
        with open(result.part, "rb") as part:
            while block := part.read(COPY_BYTES):
                out.write(block)
    with contextlib.suppress(OSError):
        os.unlink(result.part)  # free the disk as soon as it is copied
