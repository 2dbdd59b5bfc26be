"""Cleaning and splitting of normalised JSONL: exact and near dedup, length filter, seeded split.

Each operation streams ``src`` into new file(s) (written atomically) and returns a CleanStats.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import xxhash

from backend.ingest.atomic import atomic_output
from backend.ingest.jsonl import count_rows, iter_jsonl
from backend.ingest.report import MAX_EXAMPLES, preview
from backend.ingest.row_length import row_chars

_WORD = re.compile(r"\w+")


@dataclass
class CleanStats:
    """What an operation did: rows in and out, and a few examples of what it removed and why."""

    operation: str
    rows_in: int = 0
    rows_out: int = 0
    removed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)  # {row, reason, preview}
    outputs: dict[str, int] = field(default_factory=dict)  # file -> rows, for split

    def note(self, row: int, reason: str, line: bytes) -> None:
        self.removed += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append({"row": row, "reason": reason, "preview": preview(line)})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _canonical(row: dict) -> bytes:
    # sorted keys so that two rows equal as JSON hash equal whatever their key order
    return orjson.dumps(row, option=orjson.OPT_SORT_KEYS)


def dedup_exact(src: str | os.PathLike, dest: str | os.PathLike) -> CleanStats:
    """Drop rows identical (as JSON) to an earlier row; keeps the first occurrence."""
    stats = CleanStats("dedup_exact")
    first_seen: dict[bytes, int] = {}
    with atomic_output(dest) as out:
        for n, (line, row) in enumerate(iter_jsonl(src), 1):
            stats.rows_in += 1
            key = xxhash.xxh3_128_digest(_canonical(row))
            if key in first_seen:
                stats.note(n, f"duplicate of row {first_seen[key]}", line)
                continue
            first_seen[key] = n
            out.write(line + b"\n")
            stats.rows_out += 1
    return stats


def _row_text(row: Any) -> str:
    """All the text content of a row, in order, whatever its format."""
    if isinstance(row, str):
        return row
    if isinstance(row, dict):
        return "\n".join(_row_text(v) for k, v in row.items() if k != "role")
    if isinstance(row, list):
        return "\n".join(_row_text(v) for v in row)
    return ""


def _minhash(text: str, num_perm: int, shingle: int, MinHash) -> Any:
    words = _WORD.findall(text.lower())
    grams = {" ".join(words[i : i + shingle]) for i in range(max(1, len(words) - shingle + 1))}
    m = MinHash(num_perm=num_perm)
    m.update_batch([g.encode() for g in grams])  # one numpy pass instead of one update per shingle
    return m


def dedup_near(
    src: str | os.PathLike,
    dest: str | os.PathLike,
    threshold: float = 0.9,
    *,
    num_perm: int = 128,
    shingle: int = 3,
) -> CleanStats:
    """Drop rows whose word-shingle Jaccard similarity to a kept row is >= threshold (MinHash LSH)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError("threshold must be in (0, 1]")
    # datasketch pulls in scipy (~1 s): imported here, not at module load, so the API process starts fast.
    # A deliberate exception to the no-imports-in-functions rule, which is about hiding cycles.
    from datasketch import MinHash, MinHashLSH

    stats = CleanStats(
        "dedup_near", params={"threshold": threshold, "num_perm": num_perm, "shingle": shingle}
    )
    # weight missed pairs far above false candidates: every candidate is verified by its Jaccard estimate
    # below, so a false candidate costs one comparison while a miss leaves a duplicate in the data
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.05, 0.95))
    kept: dict[int, Any] = {}
    with atomic_output(dest) as out:
        for n, (line, row) in enumerate(iter_jsonl(src), 1):
            stats.rows_in += 1
            m = _minhash(_row_text(row), num_perm, shingle, MinHash)
            # LSH candidates are probable matches; confirm with the estimated Jaccard to cut false positives
            match = next((c for c in lsh.query(m) if kept[c].jaccard(m) >= threshold), None)
            if match is not None:
                stats.note(n, f"near-duplicate of row {match}", line)
                continue
            lsh.insert(n, m)
            kept[n] = m
            out.write(line + b"\n")
            stats.rows_out += 1
    return stats


def filter_length(
    src: str | os.PathLike, dest: str | os.PathLike, min_chars: int = 0, max_chars: int | None = None
) -> CleanStats:
    """Keep rows whose content length in characters is within [min_chars, max_chars]."""
    stats = CleanStats("filter_length", params={"min_chars": min_chars, "max_chars": max_chars})
    with atomic_output(dest) as out:
        for n, (line, row) in enumerate(iter_jsonl(src), 1):
            stats.rows_in += 1
            chars = row_chars(row)
            if chars < min_chars:
                stats.note(n, f"{chars} chars < min_chars={min_chars}", line)
            elif max_chars is not None and chars > max_chars:
                stats.note(n, f"{chars} chars > max_chars={max_chars}", line)
            else:
                out.write(line + b"\n")
                stats.rows_out += 1
    return stats


def split(
    src: str | os.PathLike,
    train_dest: str | os.PathLike,
    val_dest: str | os.PathLike,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> CleanStats:
    """Seeded train/validation split with exactly round(n * val_fraction) validation rows (at least 1).

    Two passes (count, then route) keep memory at one set of validation indices, not the rows.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError("val_fraction must be in (0, 1)")
    n = count_rows(src)
    if n < 2:
        raise ValueError(f"need at least 2 rows to split, found {n}")
    k = min(n - 1, max(1, round(n * val_fraction)))
    val_rows = set(random.Random(seed).sample(range(n), k))
    stats = CleanStats("split", rows_in=n, params={"val_fraction": val_fraction, "seed": seed})
    with atomic_output(train_dest) as train, atomic_output(val_dest) as val:
        for i, (line, _) in enumerate(iter_jsonl(src)):
            (val if i in val_rows else train).write(line + b"\n")
    stats.rows_out = n
    stats.outputs = {str(train_dest): n - k, str(val_dest): k}
    return stats
