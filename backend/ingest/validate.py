"""The per-row validation loop, shared by the single-process path and the parallel byte-range workers.

A RowValidator carries everything a file needs across rows (row counts, length stats, the column census,
the duplicate-check hashes), so it can be fed one byte range after another and give the same result as
one pass over the whole file.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
import xxhash

from backend.ingest.formats import NORMALISERS, detect_format
from backend.ingest.report import IssueCollector
from backend.ingest.row_length import ROW_CHARS

DETECT_ROWS = 20  # rows sampled to guess the format: a vote, so one odd first row does not decide it
# bytes per hand-over to the writer: large enough to amortise the queue, small enough that the few
# batches in flight (and allocator fragmentation across threads) stay a few MB
WRITE_BATCH_BYTES = 1 << 20

Rows = Iterable[tuple[int, Any]]
Mapper = Callable[[dict[str, Any]], tuple[dict[str, Any], list[str]]]


def map_row(mapper: Mapper, obj: Any, rowno: int, issues: IssueCollector) -> Any:
    """Apply a column mapping to one row; None (and a missing_field per column) when columns are missing."""
    if type(obj) is not dict:
        return obj
    mapped, missing = mapper(obj)
    for column in missing:
        issues.add("missing_field", rowno, column)
    return None if missing else mapped


def map_rows(mapper: Mapper | None, rows: Rows, issues: IssueCollector) -> Iterator[tuple[int, Any]]:
    """Lazily map rows, so mapping issues interleave with validation issues row by row."""
    if mapper is None:
        return iter(rows)
    return ((n, map_row(mapper, obj, n, issues)) for n, obj in rows)


def vote_format(head: list[tuple[int, Any]]) -> str | None:
    """The format most of the (mapped) first rows look like; None when none fits."""
    votes = Counter(detect_format(obj) for _, obj in head if isinstance(obj, dict))
    votes.pop(None, None)
    return votes.most_common(1)[0][0] if votes else None


class RowValidator:
    """Validate and normalise rows of one format, writing their JSON lines in ~1 MiB batches.

    defer_duplicates: record (hash, row) of the first ``dup_cap`` rows instead of checking them, for a
    byte range whose earlier rows live in another process; the parent checks them in row order.
    """

    def __init__(
        self,
        fmt: str,
        issues: IssueCollector,
        *,
        max_chars: int | None,
        columns: Iterable[str],
        dup_cap: int,
        defer_duplicates: bool = False,
    ):
        self.normalise, self.chars_of = NORMALISERS[fmt], ROW_CHARS[fmt]
        self.issues, self.max_chars = issues, max_chars
        self.columns = dict.fromkeys(columns)
        self.dup_cap, self.defer = dup_cap, defer_duplicates
        self.seen: set[int] = set()
        self.hashes = array("Q")  # deferred mode only: the hash and source row of each checked row
        self.hash_rows = array("q")
        self.source_rows = self.row_count = 0
        self.min_chars: int | None = None
        self.max_chars_seen = self.total_chars = 0
        self.last_keys: tuple = ()

    # The one function past the complexity limit, on purpose: splitting the per-row loop into calls costs the
    # ingest benchmark (bench/results/ingest.md) its lead, and the loop reads top to bottom.
    def feed(  # noqa: C901
        self, rows: Rows, write: Callable[[list[bytes]], None], *, keep_writing: bool = False
    ) -> None:
        """The hot loop. Kept flat, with locals bound up front, because it runs once per row of a 1 GB file.

        write gets lists of lines (no newlines); it stops being called once an error is found, unless
        keep_writing (a range worker writes everything: its lines may be needed for duplicate previews).
        """
        issues, normalise, chars_of, max_chars = self.issues, self.normalise, self.chars_of, self.max_chars
        dumps, hash64 = orjson.dumps, xxhash.xxh3_64_intdigest
        add = issues.add
        columns, seen, dup_cap, defer = self.columns, self.seen, self.dup_cap, self.defer
        seen_add, hashes_append, hash_rows_append = seen.add, self.hashes.append, self.hash_rows.append
        batch: list[bytes] = []
        batch_bytes = 0
        source_rows, row_count = self.source_rows, self.row_count
        min_chars, max_seen, total_chars = self.min_chars, self.max_chars_seen, self.total_chars
        last_keys = self.last_keys

        for rowno, obj in rows:
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
                if row_count < dup_cap:
                    h = hash64(line)
                    if defer:
                        hashes_append(h)
                        hash_rows_append(rowno)
                    elif h in seen:
                        add("duplicate_row", rowno, None, line)
                    else:
                        seen_add(h)
                elif row_count == dup_cap and not defer:
                    add("duplicate_check_capped", rowno)
                row_count += 1
                if keep_writing or not issues.error_count:  # once invalid, keep validating but stop writing
                    batch.append(line)
                    batch_bytes += len(line)
                    if batch_bytes >= WRITE_BATCH_BYTES:
                        write(batch)  # may be handed to another thread: start a new list
                        batch, batch_bytes = [], 0
        if batch and (keep_writing or not issues.error_count):
            write(batch)
        self.source_rows, self.row_count = source_rows, row_count
        self.min_chars, self.max_chars_seen, self.total_chars = min_chars, max_seen, total_chars
        self.last_keys = last_keys

    def finish(self, state: dict[str, Any]) -> None:
        """Report no_rows if nothing survived, and store the counts and length stats in ``state``."""
        if self.source_rows and not self.row_count and not self.issues.error_count:
            self.issues.add("no_rows", None)
        row_count = self.row_count
        state.update(
            source_rows=self.source_rows,
            row_count=row_count,
            columns=list(self.columns),
            chars={
                "min": self.min_chars or 0,
                "max": self.max_chars_seen,
                "mean": round(self.total_chars / row_count, 1) if row_count else 0,
            },
        )
