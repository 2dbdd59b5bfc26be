"""Dataset views that need a tokenizer: the template preview of one row and the token-length profile."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

from transformers import AutoTokenizer

from worker.training.data import preview_row, tokenize_row
from worker.training.rows import load_rows, row_fields

HISTOGRAM_BINS = 20
PROFILE_SAMPLES = 3


@functools.lru_cache(maxsize=4)
def tokenizer_for(path: str):
    return AutoTokenizer.from_pretrained(path)


def as_trainable_row(row: dict) -> dict:
    """Preference, unpaired and prompt-only rows viewed as the conversation the trainer tokenizes."""
    if "chosen" in row:
        return {"messages": [*row["prompt"], *row["chosen"]]}
    if "completion" in row:
        return {"messages": [*row["prompt"], *row["completion"]]}
    if "prompt" in row and "messages" not in row:
        answer = [{"role": "assistant", "content": row["answer"]}] if row.get("answer") else []
        return {"messages": [*row["prompt"], *answer]} if answer else {"text": row["prompt"][-1]["content"]}
    return row


def template_preview(payload: dict, *, cache_dir: Path) -> dict:
    """One row as training renders it; cache_dir keeps the version's Arrow copy for the next view."""
    rows = load_rows(payload["rows_path"], cache_dir=cache_dir)
    if payload["row"] >= len(rows):
        raise IndexError(f"row {payload['row']} is past the end of the dataset")
    row = row_fields(rows[payload["row"]])
    return {
        "row": payload["row"],
        "source": row,
        **preview_row(
            as_trainable_row(row),
            tokenizer_for(payload["tokenizer_path"]),
            template=payload["chat_template"],
            max_length=payload["max_length"],
            loss_on=payload["loss_on"],
            system_prompt=payload.get("system_prompt"),
        ),
    }


def profile(payload: dict, *, cache_dir: Path) -> dict:
    """Token lengths of every row under the chosen template: histogram, share over max_length, samples."""
    tokenizer = tokenizer_for(payload["tokenizer_path"])
    limit = payload["max_length"]
    lengths, samples = [], []
    for stored in load_rows(payload["rows_path"], cache_dir=cache_dir):
        row = row_fields(stored)
        # Measure untruncated length: the point is to see what max_length would cut.
        ids = tokenize_row(
            as_trainable_row(row), tokenizer, template=payload["chat_template"], max_length=10**9
        )["input_ids"]
        lengths.append(len(ids))
        if len(samples) < PROFILE_SAMPLES:
            samples.append(row)
    if not lengths:
        raise ValueError("the dataset version has no rows")
    top = max(lengths)
    width = max(1, -(-top // HISTOGRAM_BINS))
    counts = Counter(min(n // width, HISTOGRAM_BINS - 1) for n in lengths)
    ordered = sorted(lengths)
    return {
        "format": payload["format"],
        "row_count": len(lengths),
        "tokens_total": sum(lengths),
        "tokens_mean": sum(lengths) / len(lengths),
        "tokens_p50": ordered[len(ordered) // 2],
        "tokens_p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
        "tokens_max": top,
        "max_length": limit,
        "share_over_max_length": sum(n > limit for n in lengths) / len(lengths),
        "histogram": [
            {"from": b * width, "to": (b + 1) * width, "rows": counts.get(b, 0)}
            for b in range(HISTOGRAM_BINS)
        ],
        "samples": samples,
        "tokenizer": payload["tokenizer_path"],
    }
