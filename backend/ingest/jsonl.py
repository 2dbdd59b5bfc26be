"""Reading normalised JSONL files: streaming iteration and paging for previews."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import orjson


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """Yield (raw line without newline, parsed row) for each non-blank line of a normalised JSONL file."""
    with open(path, "rb", buffering=1 << 20) as f:
        for line in f:
            line = line.rstrip(b"\r\n")
            if line:
                yield line, orjson.loads(line)


def read_rows(path: str | os.PathLike, offset: int = 0, limit: int = 20) -> list[dict[str, Any]]:
    """Rows ``offset`` .. ``offset+limit-1`` (0-based) of a normalised JSONL file, for paging in the UI."""
    if offset < 0 or limit < 0:
        raise ValueError("offset and limit must be >= 0")
    with open(path, "rb", buffering=1 << 20) as f:
        lines = (line for line in f if line.strip())
        return [orjson.loads(line) for line in itertools.islice(lines, offset, offset + limit)]


def count_rows(path: str | os.PathLike) -> int:
    """Number of rows in a normalised JSONL file, counted without parsing."""
    with open(path, "rb", buffering=1 << 20) as f:
        return sum(1 for line in f if line.strip())
