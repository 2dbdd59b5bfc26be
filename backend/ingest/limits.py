"""Upload limits, enforced as the bytes stream in: memory and temporary disk stay bounded whatever the input.

    limits = Limits(max_decompressed_bytes=8 << 30, max_ratio=100, max_line_bytes=8 << 20, max_rows=10**7)
    ingest_file(src, dest, filename="x.jsonl.gz", limits=limits)   # raises LimitExceeded past any of them

``GuardedRaw`` wraps the (decompressed) byte stream under the readers' buffers: it counts every byte, and the
bytes read since the last row ended, and raises LimitExceeded the moment a count passes its limit. A reader's
own buffer therefore never holds more than one over-long row plus one read-ahead block.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

READ_AHEAD = 1 << 20  # the largest block a reader asks for past the end of a row (readers.READ_BUFFER)
# A bomb only hurts at scale: below this much output the ratio is not checked, since small files of repetitive
# rows legitimately compress far better than any sensible ratio (gzip reaches ~1000x on repeated text).
RATIO_SLACK_BYTES = 64 << 20


@dataclass(frozen=True)
class Limits:
    """What one upload may cost; None switches a limit off. The defaults live in backend.config.Settings."""

    max_upload_bytes: int | None = None
    max_decompressed_bytes: int | None = None
    max_ratio: float | None = None
    max_line_bytes: int | None = None
    max_rows: int | None = None


class LimitExceeded(Exception):
    """An upload passed one of its limits; ``setting`` is the environment variable that sets it."""

    SETTINGS = {  # noqa: RUF012 - a constant table
        "max_upload_bytes": "AFINA_MAX_UPLOAD_BYTES",
        "max_decompressed_bytes": "AFINA_MAX_DECOMPRESSED_BYTES",
        "max_ratio": "AFINA_MAX_DECOMPRESSION_RATIO",
        "max_line_bytes": "AFINA_MAX_LINE_BYTES",
        "max_rows": "AFINA_MAX_ROWS",
    }

    def __init__(self, limit: str, value: float, what: str, row: int | None = None):
        super().__init__(limit, value, what, row)  # plain args: survives pickling from a worker process
        self.limit, self.value, self.what, self.row = limit, value, what, row
        self.setting = self.SETTINGS[limit]

    @property
    def is_size(self) -> bool:
        """True for sheer size (413 Content Too Large); the others describe the content (422)."""
        return self.limit in ("max_upload_bytes", "max_decompressed_bytes")

    def __str__(self) -> str:
        where = f" at row {self.row}" if self.row else ""
        value = human(self.value) if "bytes" in self.limit else f"{self.value:g}"
        return f"{self.what}{where}: the limit is {value} ({self.setting})"


def human(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{int(count)} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


class GuardedRaw(io.RawIOBase):
    """A raw stream over ``inner`` that enforces the decompressed-size, ratio and row-length limits.

    ``source_bytes`` is the size of the file as uploaded (for the ratio); ``compressed`` says whether
    ``inner`` expands it. ``mode`` says how a row's length is measured: "lines" between newlines (JSONL,
    CSV), "rows" between the rows the reader reports through ``row_done()`` (JSON arrays), "bytes" not at
    all (Parquet, and until the container is known).
    """

    def __init__(self, inner: Any, limits: Limits, *, source_bytes: int, compressed: bool):
        self._inner, self._limits = inner, limits
        self._source_bytes, self._compressed = max(1, source_bytes), compressed
        self.mode = "bytes"
        self.total = 0
        self.rows = 0
        self._since_line = 0  # bytes since the last newline
        self._since_row = 0  # bytes since the reader reported the last row
        self._newlines = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._inner.tell()

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()

    def readinto(self, buffer) -> int:
        view = memoryview(buffer)
        data = self._inner.read(len(view))
        n = len(data)
        view[:n] = data
        self.total += n
        if self._limits.max_line_bytes:
            newline = data.rfind(b"\n")
            self._since_line = self._since_line + n if newline < 0 else n - newline - 1
            self._newlines += data.count(b"\n")
        self._since_row += n
        self._check()
        return n

    def _check(self) -> None:
        limits = self._limits
        if self._compressed and limits.max_decompressed_bytes and self.total > limits.max_decompressed_bytes:
            raise LimitExceeded(
                "max_decompressed_bytes",
                limits.max_decompressed_bytes,
                "the file expands past the size limit",
            )
        if (
            self._compressed
            and limits.max_ratio
            and self.total > RATIO_SLACK_BYTES
            and self.total > limits.max_ratio * self._source_bytes
        ):
            raise LimitExceeded(
                "max_ratio",
                limits.max_ratio,
                f"the file expands more than {limits.max_ratio:g}x ({human(self._source_bytes)} compressed)",
            )
        # a JSON array's reader reads ahead by up to one block past a row's end before it reports the row
        since = self._since_line if self.mode == "lines" else self._since_row - READ_AHEAD
        if self.mode != "bytes" and limits.max_line_bytes and since > limits.max_line_bytes:
            row = self._newlines + 1 if self.mode == "lines" else self.rows + 1
            raise LimitExceeded(
                "max_line_bytes", limits.max_line_bytes, "a row is longer than the limit", row
            )

    def row_done(self) -> None:
        self.rows += 1
        self._since_row = 0
        if self._limits.max_rows and self.rows > self._limits.max_rows:
            raise LimitExceeded("max_rows", self._limits.max_rows, "the file has more rows than the limit")


def guarded_rows(rows: Iterator[tuple[int, Any]], guard: GuardedRaw | None) -> Iterator[tuple[int, Any]]:
    """``rows`` with each one reported to ``guard`` (row length and row count limits)."""
    if guard is None:
        yield from rows
        return
    for item in rows:
        guard.row_done()
        yield item


def check_parquet(metadata: Any, file_bytes: int, limits: Limits) -> None:
    """Refuse a Parquet file from its footer, before pyarrow decodes a page: too many rows, too large once
    decoded (its own compression is a bomb too), or a row group whose rows average more than the row limit."""
    groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
    decoded = sum(group.total_byte_size for group in groups)
    if limits.max_rows and metadata.num_rows > limits.max_rows:
        raise LimitExceeded("max_rows", limits.max_rows, f"the file has {metadata.num_rows} rows")
    if limits.max_decompressed_bytes and decoded > limits.max_decompressed_bytes:
        raise LimitExceeded(
            "max_decompressed_bytes", limits.max_decompressed_bytes, f"the file decodes to {human(decoded)}"
        )
    if limits.max_ratio and decoded > RATIO_SLACK_BYTES and decoded > limits.max_ratio * max(1, file_bytes):
        raise LimitExceeded(
            "max_ratio", limits.max_ratio, f"the file decodes to {human(decoded)} from {human(file_bytes)}"
        )
    first_row = 1
    for group in groups:
        if limits.max_line_bytes and group.total_byte_size > limits.max_line_bytes * max(1, group.num_rows):
            raise LimitExceeded(
                "max_line_bytes", limits.max_line_bytes, "rows are longer than the limit", first_row
            )
        first_row += group.num_rows


def check_parquet_batch(sizes: list[int], rows_before: int, decoded: int, limits: Limits) -> int:
    """Refuse a decoded Parquet batch whose rows are too long or that takes the file past its decoded size;
    ``sizes`` are its rows' text bytes. Returns the batch's bytes."""
    if limits.max_line_bytes and sizes and max(sizes) > limits.max_line_bytes:
        row = rows_before + sizes.index(max(sizes)) + 1
        raise LimitExceeded("max_line_bytes", limits.max_line_bytes, "a row is longer than the limit", row)
    batch = sum(sizes)
    if limits.max_decompressed_bytes and decoded + batch > limits.max_decompressed_bytes:
        raise LimitExceeded(
            "max_decompressed_bytes", limits.max_decompressed_bytes, "the file decodes past the size limit"
        )
    return batch
