"""Streaming readers: JSONL, JSON array, CSV, Parquet, each optionally gzipped; sniffed by magic bytes.

Every reader yields ``(row_number, value)`` and never holds the whole file. Row numbers are 1-based
physical lines for JSONL, the line a record starts on for CSV (the header is line 1), and 1-based
element indices for JSON arrays and Parquet. Rows that cannot be parsed are reported and skipped,
so one pass finds every bad line.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from backend.ingest.limits import GuardedRaw, Limits, check_parquet, check_parquet_batch, guarded_rows
from backend.ingest.report import IssueCollector

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
BOM = b"\xef\xbb\xbf"
READ_BUFFER = 1 << 20  # 1 MiB: big enough that line splitting, not syscalls, dominates
PARQUET_BATCH = 1024
# with limits, a batch whose text decodes to more than this is turned into Python rows one at a time
PARQUET_SLICE_BYTES = 64 << 20
# CSV cells that hold nested data are JSON-encoded by convention; decode them so CSV can carry chats
CSV_JSON_COLUMNS = ("messages", "conversations", "instances", "prompt", "chosen", "rejected", "completion")

csv.field_size_limit(sys.maxsize)  # long documents are legitimate; max_chars is the length policy


@dataclass
class Source:
    """An opened source: what it is and an iterator over its rows."""

    container: str | None  # jsonl, json, csv, parquet; None when unreadable
    compression: str | None
    rows: Iterator[tuple[int, Any]]
    columns: list[str] = field(default_factory=list)  # header/schema names where the container has them


def jsonl_rows(
    stream: BinaryIO,
    issues: IssueCollector,
    *,
    first_line: int = 0,
    strip_bom: bool = True,
    lines_out: list[int] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Rows of a JSONL stream numbered from ``first_line + 1``; a byte range of a file passes its offset,
    strip_bom=False (a BOM is only a BOM at the start of the file) and gets its line count in lines_out."""
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    if strip_bom and stream.peek(3)[:3] == BOM:
        stream.read(3)
    lineno = first_line
    for line in stream:
        lineno += 1
        try:
            yield lineno, loads(line)
        except decode_error:
            # the slow path runs only for bad lines: tell encoding errors from syntax errors
            if not line.strip():
                issues.add("blank_line", lineno)
                continue
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                issues.add("invalid_encoding", lineno, None, line[max(0, exc.start - 30) : exc.end + 30])
                continue
            issues.add("invalid_json", lineno, None, line)
    if lines_out is not None:
        lines_out.append(lineno - first_line)


class _RangeRaw(io.RawIOBase):
    """A raw stream over bytes [start, end) of a file, so a BufferedReader iterates just that range."""

    def __init__(self, path: str | Path, start: int, end: int):
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._file.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._left <= 0:
            return 0
        n = self._file.readinto(memoryview(buffer)[: self._left]) or 0
        self._left -= n
        return n

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()
        super().close()


def open_range(path: str | Path, start: int, end: int, limits: Limits | None = None) -> io.BufferedReader:
    """A buffered binary stream over bytes [start, end) of ``path`` (a JSONL file); use it as a context
    manager. With ``limits``, a line longer than the limit raises LimitExceeded (row local to the range)."""
    raw: io.RawIOBase = _RangeRaw(path, start, end)
    if limits is not None:
        raw = GuardedRaw(raw, limits, source_bytes=end - start, compressed=False)
        raw.mode = "lines"
    return io.BufferedReader(raw, buffer_size=READ_BUFFER)


def find_line_start(f: BinaryIO, pos: int, size: int) -> int:
    """The offset of the first line starting at or after ``pos`` (``size`` when none does)."""
    if pos <= 0:
        return 0
    f.seek(pos - 1)
    while True:
        block = f.read(1 << 16)
        if not block:
            return size
        i = block.find(b"\n")
        if i >= 0:
            return pos + i
        pos += len(block)


def _json_array_rows(stream: BinaryIO, issues: IssueCollector) -> Iterator[tuple[int, Any]]:
    index = 0
    try:
        for value in ijson.items(stream, "item", use_float=True):
            index += 1
            yield index, value
    except UnicodeDecodeError as exc:
        issues.add("invalid_encoding", index + 1, None, str(exc))
    except ijson.JSONError as exc:
        # a syntax error ends a JSON array: nothing after it can be located reliably
        kind = "invalid_encoding" if "utf" in str(exc).lower() else "invalid_json"
        issues.add(kind, index + 1, None, str(exc))


def _csv_rows(stream: BinaryIO, issues: IssueCollector, delimiter: str) -> Iterator[tuple[int, Any]]:
    counter = [0]

    def lines() -> Iterator[str]:
        for raw in stream:
            counter[0] += 1
            if counter[0] == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                issues.add("invalid_encoding", counter[0], None, raw[max(0, exc.start - 30) : exc.end + 30])
                yield raw.decode("utf-8", "replace")

    reader = csv.reader(lines(), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    header = [h.strip() for h in header]
    last_line = reader.line_num
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            issues.add("unreadable_file", last_line + 1, None, str(exc))
            return
        start, last_line = last_line + 1, reader.line_num
        if not record or record == [""]:
            continue
        row = dict(zip(header, record))  # a short record lacks its last columns: reported as missing_field
        for name in CSV_JSON_COLUMNS:
            value = row.get(name)
            if value and value[0] in "[{":
                with contextlib.suppress(orjson.JSONDecodeError):
                    row[name] = orjson.loads(value)
        yield start, row


def _parquet_rows(pfile: pq.ParquetFile, limits: Limits | None = None) -> Iterator[tuple[int, Any]]:
    index, decoded = 0, 0
    for batch in pfile.iter_batches(batch_size=PARQUET_BATCH):
        big = False
        if limits is not None:
            sizes = _text_bytes(batch)
            decoded += check_parquet_batch(sizes, index, decoded, limits)
            big = sum(sizes) > PARQUET_SLICE_BYTES
        # big rows become Python objects one at a time, the rest a batch at a time
        rows = (batch.slice(i, 1).to_pylist()[0] for i in range(batch.num_rows)) if big else batch.to_pylist()
        for row in rows:
            index += 1
            yield index, row


def _text_bytes(batch: pa.RecordBatch) -> list[int]:
    """Per row, the bytes of its top-level text columns once decoded (dictionary-encoded ones included: a
    few distinct huge values repeated on every row are how a small Parquet file expands)."""
    total = pa.array([0] * batch.num_rows, pa.int64())
    for column in batch.columns:
        kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)):
            continue
        if pa.types.is_dictionary(column.type):
            lengths = pc.take(pc.binary_length(column.dictionary), column.indices)
        else:
            lengths = pc.binary_length(column)
        total = pc.add(total, pc.fill_null(pc.cast(lengths, pa.int64()), 0))
    return total.to_pylist()


def _first_char(stream: BinaryIO) -> bytes:
    """The first non-whitespace byte after an optional BOM, without consuming the stream."""
    head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
    return head.removeprefix(BOM).lstrip()[:1]


def _guess_container(stream: io.BufferedReader, name: str) -> str:
    lower = name.lower()
    if lower.endswith((".csv", ".tsv")):
        return "csv"
    first = _first_char(stream)
    if first == b"[":
        return "json"
    if first == b"{" or lower.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    return "csv"


@contextlib.contextmanager
def open_source(
    path: Path, filename: str, issues: IssueCollector, limits: Limits | None = None
) -> Iterator[Source]:
    """Open a dataset file for streaming; container and compression come from its bytes, then its name.
    With ``limits``, reading past any of them raises LimitExceeded as soon as it happens."""
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(open(path, "rb", buffering=READ_BUFFER))
        magic = raw.peek(4)[:4]
        compression = None
        name = filename
        inner: Any = raw
        if magic[:2] == GZIP_MAGIC:
            compression = "gzip"
            name = filename[:-3] if filename.lower().endswith(".gz") else filename
            inner = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        guard = None
        if limits is not None:
            guard = GuardedRaw(inner, limits, source_bytes=path.stat().st_size, compressed=bool(compression))
            inner = guard
        stream: io.BufferedReader = (
            stack.enter_context(io.BufferedReader(inner, buffer_size=READ_BUFFER))
            if inner is not raw
            else raw
        )
        if compression:
            try:
                magic = stream.peek(4)[:4]
            except (OSError, EOFError) as exc:
                issues.add("unreadable_file", None, None, f"gzip: {exc}")
                yield Source(None, compression, iter(()))
                return
            if not magic:
                issues.add("empty_file", None)
                yield Source(None, compression, iter(()))
                return
        if magic == PARQUET_MAGIC:
            yield _open_parquet(stack, path, stream, compression, issues, limits)
            return
        container = _guess_container(stream, name)
        if container == "json":
            rows = _json_array_rows(stream, issues)
        elif container == "jsonl":
            rows = jsonl_rows(stream, issues)
        else:
            delimiter = "\t" if name.lower().endswith(".tsv") else ","
            rows = _csv_rows(stream, issues, delimiter)
        if guard is not None:
            guard.mode = "rows" if container == "json" else "lines"
            rows = guarded_rows(rows, guard)
        # a plain file cannot fail mid-stream in practice; skip the guard's per-row cost there
        yield Source(container, compression, _guarded(rows, issues) if compression else rows)


def _open_parquet(
    stack: contextlib.ExitStack,
    path: Path,
    stream: BinaryIO,
    compression: str | None,
    issues: IssueCollector,
    limits: Limits | None,
) -> Source:
    if compression:
        # Parquet needs random access: spill the decompressed bytes to a temporary file (the limits bound it)
        spill = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - closed by the stack
        shutil.copyfileobj(stream, spill, READ_BUFFER)
        size = spill.tell()
        spill.seek(0)
        target: Any = spill
    else:
        target, size = path, path.stat().st_size
    try:
        pfile = pq.ParquetFile(target)
    except (pa.ArrowException, OSError) as exc:
        issues.add("unreadable_file", None, None, f"parquet: {exc}")
        return Source(None, compression, iter(()))
    if limits is not None:
        check_parquet(pfile.metadata, size, limits)  # from the footer, before any page is decoded
        # text columns stay dictionary-encoded in memory, so repeated huge values are measured, not expanded
        texts = [
            f.name for f in pfile.schema_arrow if pa.types.is_string(f.type) or pa.types.is_binary(f.type)
        ]
        if texts:
            if hasattr(target, "seek"):
                target.seek(0)
            pfile = pq.ParquetFile(target, read_dictionary=texts)
    rows = _guarded(_parquet_rows(pfile, limits), issues)
    return Source("parquet", compression, rows, pfile.schema_arrow.names)


# what a row iterator can raise mid-stream (truncated gzip, corrupt Parquet page): reported, not crashed on
READ_ERRORS = (OSError, EOFError, pa.ArrowException, gzip.BadGzipFile)


def _guarded(rows: Iterator[tuple[int, Any]], issues: IssueCollector) -> Iterator[tuple[int, Any]]:
    """Turn a mid-stream read failure into an ``unreadable_file`` entry at the row it stopped at."""
    last = 0
    try:
        for item in rows:
            last = item[0]
            yield item
    except READ_ERRORS as exc:
        issues.add("unreadable_file", last + 1, None, f"{type(exc).__name__}: {exc}")
