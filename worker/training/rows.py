"""Dataset rows as `datasets` Arrow tables: stored version files, weighted mixtures, seeded validation splits.

A stored dataset version (normalised JSONL, or Parquet) is converted once into Arrow files under a cache
folder and memory-mapped from there, so a training job or a dataset view holds pages of the file, not a Python
list of every row. Rows of a mixture of formats share one table: a column a row's format lacks reads as None,
and `row_fields` gives back the row as it was stored.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from datasets import Dataset, DownloadConfig, concatenate_datasets, load_dataset

#: the `datasets` builder that reads each stored file kind
_BUILDERS = {".jsonl": "json", ".json": "json", ".ndjson": "json", ".parquet": "parquet"}


def load_rows(path: str | Path, *, cache_dir: str | Path) -> Dataset:
    """A stored dataset version file as a memory-mapped dataset (Arrow files written once into cache_dir).

    Local files only: nothing is fetched from the hub.
    """
    path = Path(path)
    builder = _BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise ValueError(f"dataset file {path.name}: expected a .jsonl or .parquet file")
    if path.stat().st_size == 0:  # the json builder has no schema to give an empty file
        return Dataset.from_list([])
    return load_dataset(
        builder,
        data_files=str(path),
        split="train",
        cache_dir=str(cache_dir),
        download_config=DownloadConfig(local_files_only=True),
    )


def as_dataset(rows: Dataset | Sequence[dict]) -> Dataset:
    """Rows as a dataset; a list of dicts (as scripts and tests pass) becomes an in-memory one."""
    return rows if isinstance(rows, Dataset) else Dataset.from_list(list(rows))


def row_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A row without the columns it does not have (None where another format of the mixture has a column)."""
    return {key: value for key, value in row.items() if value is not None}


def mix_rows(parts: Sequence[tuple[Dataset, float]], seed: int) -> Dataset:
    """A weighted mixture: the largest set keeps all its rows; the others are sampled to match their weights.

    The draw is made on row positions, so the same seed picks the same rows in the same order as drawing
    from the rows themselves would.
    """
    if len(parts) == 1:
        return parts[0][0]
    rng = random.Random(seed)
    per_weight = max(len(rows) / weight for rows, weight in parts)
    picks: list[int] = []
    offset = 0
    for rows, weight in parts:
        size, want = len(rows), round(per_weight * weight)
        positions = range(size) if want == size else rng.choices(range(size), k=want)
        picks.extend(offset + i for i in positions)
        offset += size
    rng.shuffle(picks)
    return concatenate_datasets([rows for rows, _ in parts]).select(picks)


def split_rows(
    train: Dataset, eval_rows: Dataset | None, share: float, seed: int
) -> tuple[Dataset, Dataset | None]:
    """Hold out `share` of the training rows for validation when no validation rows were given."""
    if eval_rows is not None and len(eval_rows):
        return train, eval_rows
    if share <= 0 or len(train) < 2:
        return train, None
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    held = set(order[: max(1, int(len(train) * share))])
    kept = [i for i in range(len(train)) if i not in held]
    return train.select(kept), train.select(sorted(held))


def to_examples(rows: Dataset, example: Callable[[dict[str, Any]], dict[str, Any]], *, desc: str) -> Dataset:
    """`example(row)` of every row as a new dataset (on disk beside file-backed rows, else in memory)."""
    return rows.map(lambda row: example(row_fields(row)), remove_columns=rows.column_names, desc=desc)
