"""Cleaning, splitting, exporting and paging of normalised JSONL."""

from __future__ import annotations

import json
import random
from pathlib import Path

import datasets
import pytest

from backend.ingest import (
    count_rows,
    dedup_exact,
    dedup_near,
    export,
    filter_length,
    ingest_file,
    read_rows,
    split,
)

GOOD = Path(__file__).resolve().parents[1] / "data" / "good"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def text_rows(n: int) -> list[dict]:
    rng = random.Random(0)  # distinct random word salads: no two rows share many 3-word shingles
    return [{"text": f"row {i}: " + " ".join(f"w{rng.randrange(5000)}" for _ in range(30))} for i in range(n)]


def test_dedup_exact_ignores_key_order(tmp_path):
    a = {"instruction": "I", "input": "", "output": "O"}
    b = {"output": "O", "input": "", "instruction": "I"}
    src = write_jsonl(tmp_path / "in.jsonl", [a, {"text": "x"}, b, a])
    stats = dedup_exact(src, tmp_path / "out.jsonl")
    assert (stats.rows_in, stats.rows_out, stats.removed) == (4, 2, 2)
    assert [e["row"] for e in stats.examples] == [3, 4]
    assert stats.examples[0]["reason"] == "duplicate of row 1"
    assert read_rows(tmp_path / "out.jsonl", 0, 10) == [a, {"text": "x"}]


def test_dedup_near_drops_a_one_word_edit_but_keeps_distinct_rows(tmp_path):
    rows = text_rows(20)
    edited = {"text": rows[3]["text"].replace("row 3:", "row three:")}
    src = write_jsonl(tmp_path / "in.jsonl", rows + [edited])
    stats = dedup_near(src, tmp_path / "out.jsonl", threshold=0.8)
    assert stats.rows_out == 20 and stats.removed == 1
    assert stats.examples[0]["row"] == 21 and stats.examples[0]["reason"] == "near-duplicate of row 4"


def test_filter_length(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "a" * n} for n in (1, 10, 100, 1000)])
    stats = filter_length(src, tmp_path / "out.jsonl", min_chars=5, max_chars=500)
    assert [len(r["text"]) for r in read_rows(tmp_path / "out.jsonl", 0, 10)] == [10, 100]
    assert [e["row"] for e in stats.examples] == [1, 4]


def test_split_is_seeded_exact_and_disjoint(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", text_rows(100))
    stats = split(src, tmp_path / "train.jsonl", tmp_path / "val.jsonl", val_fraction=0.2, seed=7)
    train, val = read_rows(tmp_path / "train.jsonl", 0, 200), read_rows(tmp_path / "val.jsonl", 0, 200)
    assert (len(train), len(val)) == (80, 20) and stats.outputs[str(tmp_path / "val.jsonl")] == 20
    assert sorted(r["text"] for r in train + val) == sorted(r["text"] for r in text_rows(100))
    split(src, tmp_path / "t2.jsonl", tmp_path / "v2.jsonl", val_fraction=0.2, seed=7)
    assert (tmp_path / "v2.jsonl").read_bytes() == (tmp_path / "val.jsonl").read_bytes()
    split(src, tmp_path / "t3.jsonl", tmp_path / "v3.jsonl", val_fraction=0.2, seed=8)
    assert (tmp_path / "v3.jsonl").read_bytes() != (tmp_path / "val.jsonl").read_bytes()
    with pytest.raises(ValueError):
        split(src, tmp_path / "a", tmp_path / "b", val_fraction=1.0)


@pytest.mark.parametrize("sample", ["chat.jsonl", "preference.jsonl", "kto.jsonl", "instruction.csv"])
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_export_round_trips_through_datasets(tmp_path, sample, fmt):
    normalised = tmp_path / "norm.jsonl"
    ingest_file(GOOD / sample, normalised, filename=sample)
    dest = tmp_path / f"export.{fmt}"
    assert export(normalised, dest, fmt=fmt) == count_rows(normalised)
    loaded = datasets.load_dataset(
        "json" if fmt == "jsonl" else "parquet",
        data_files=str(dest),
        split="train",
        cache_dir=str(tmp_path / "cache"),
    )
    assert loaded.to_list() == read_rows(normalised, 0, 1000)


def test_read_rows_pages(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", text_rows(10))
    assert read_rows(src, 8, 5) == text_rows(10)[8:]
    assert read_rows(src, 20, 5) == []
