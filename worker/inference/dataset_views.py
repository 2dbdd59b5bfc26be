"""Dataset views that need a tokenizer: the template preview of one row and the token-length profile."""

from __future__ import annotations

import functools
import json
from collections import Counter
from itertools import islice
from pathlib import Path

from transformers import AutoTokenizer

from worker.training.data import preview_row, tokenize_row

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


def _rows(path: str):
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def template_preview(payload: dict) -> dict:
    row = next(islice(_rows(payload["rows_path"]), payload["row"], None), None)
    if row is None:
        raise IndexError(f"row {payload['row']} is past the end of the dataset")
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


def profile(payload: dict) -> dict:
    """Token lengths of every row under the chosen template: histogram, share over max_length, samples."""
    tokenizer = tokenizer_for(payload["tokenizer_path"])
    limit = payload["max_length"]
    lengths, samples = [], []
    for row in _rows(payload["rows_path"]):
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
