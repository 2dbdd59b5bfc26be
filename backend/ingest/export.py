"""Export a normalised JSONL dataset as JSONL or Parquet that `datasets.load_dataset` reads back unchanged."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq

from backend.ingest.atomic import atomic_output
from backend.ingest.jsonl import iter_jsonl

EXPORT_BATCH = 8192  # rows per Parquet row group write: bounded memory, reasonable group size

_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
# explicit schemas: inferring per batch could disagree between batches (an all-empty batch, a missing key)
_COLUMN_TYPES = {
    "text": pa.string(),
    "instruction": pa.string(),
    "input": pa.string(),
    "output": pa.string(),
    "messages": _MESSAGES,
    "prompt": _MESSAGES,
    "chosen": _MESSAGES,
    "rejected": _MESSAGES,
    "completion": _MESSAGES,
    "label": pa.bool_(),
    "answer": pa.string(),
}


def _schema(src: str | os.PathLike) -> pa.Schema:
    """The columns present in the file, in first-seen order (one cheap pass: keys only matter)."""
    names: dict[str, None] = {}
    last: tuple = ()
    for _, row in iter_jsonl(src):
        keys = tuple(row)
        if keys != last:
            last = keys
            names.update(dict.fromkeys(keys))
    unknown = [n for n in names if n not in _COLUMN_TYPES]
    if unknown:
        raise ValueError(f"not a normalised dataset: unexpected columns {unknown}")
    return pa.schema([(n, _COLUMN_TYPES[n]) for n in names])


def export(src_jsonl: str | os.PathLike, dest: str | os.PathLike, fmt: str = "jsonl") -> int:
    """Write ``src_jsonl`` to ``dest`` as ``jsonl`` or ``parquet``; returns the number of rows."""
    if fmt == "jsonl":
        rows = 0
        with atomic_output(dest) as out, open(src_jsonl, "rb") as f:
            for line in f:
                if line.strip():
                    rows += 1
            f.seek(0)
            while chunk := f.read(1 << 22):  # already normalised: a byte copy is an exact export
                out.write(chunk)
        return rows
    if fmt != "parquet":
        raise ValueError("fmt must be 'jsonl' or 'parquet'")
    schema = _schema(src_jsonl)
    rows = 0
    with atomic_output(dest) as out:
        writer = pq.ParquetWriter(out.tmp, schema)  # pyarrow writes the temp file itself
        batch: list[dict] = []
        for _, row in iter_jsonl(src_jsonl):
            batch.append(row)
            if len(batch) >= EXPORT_BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                rows += len(batch)
                batch.clear()
        if batch or not rows:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            rows += len(batch)
        writer.close()
    return rows


__all__ = ["export"]
