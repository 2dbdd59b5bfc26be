"""Stored dataset files read as memory-mapped datasets: the rows, mixtures and splits lists of rows gave."""

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from worker.training.rows import load_rows, mix_rows, row_fields, split_rows

CHATS = [
    {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
    for i in range(7)
]
INSTRUCTIONS = [
    {"instruction": f"say {i}", "input": "" if i % 2 else "ctx", "output": str(i)} for i in range(3)
]
PROMPTS = [
    {"prompt": [{"role": "user", "content": "hi"}], "answer": "cat"},
    {"prompt": [{"role": "user", "content": "yo"}]},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def listed(dataset) -> list[dict]:
    return [row_fields(row) for row in dataset]


def mix_lists(parts, seed):
    """The mixture as it was drawn from Python lists of rows (the behaviour the datasets version keeps)."""
    if len(parts) == 1:
        return list(parts[0][0])
    rng = random.Random(seed)
    per_weight = max(len(rows) / weight for rows, weight in parts)
    mixed = []
    for rows, weight in parts:
        want = round(per_weight * weight)
        mixed.extend(rows if want == len(rows) else rng.choices(rows, k=want))
    rng.shuffle(mixed)
    return mixed


def split_lists(train, share, seed):
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    held = set(order[: max(1, int(len(train) * share))])
    return [r for i, r in enumerate(train) if i not in held], [train[i] for i in sorted(held)]


def test_jsonl_and_parquet_read_back_the_stored_rows(tmp_path):
    cache = tmp_path / "cache"
    assert listed(load_rows(write_jsonl(tmp_path / "rows.jsonl", CHATS), cache_dir=cache)) == CHATS
    assert listed(load_rows(write_jsonl(tmp_path / "p.jsonl", PROMPTS), cache_dir=cache)) == PROMPTS
    pq.write_table(pa.Table.from_pylist(INSTRUCTIONS), tmp_path / "rows.parquet")
    assert listed(load_rows(tmp_path / "rows.parquet", cache_dir=cache)) == INSTRUCTIONS
    assert len(load_rows(write_jsonl(tmp_path / "empty.jsonl", []), cache_dir=cache)) == 0
    with pytest.raises(ValueError, match="expected a .jsonl or .parquet"):
        load_rows(write_jsonl(tmp_path / "rows.csv", CHATS), cache_dir=cache)


def test_rows_are_memory_mapped_from_the_cache_folder(tmp_path):
    rows = load_rows(write_jsonl(tmp_path / "rows.jsonl", CHATS), cache_dir=tmp_path / "cache")
    assert rows.cache_files and all(
        f["filename"].startswith(str(tmp_path / "cache")) for f in rows.cache_files
    )


@pytest.mark.parametrize("weights", [(1.0, 3.0), (2.0, 1.0), (1.0, 1.0)])
@pytest.mark.parametrize("seed", [0, 42])
def test_a_weighted_mixture_draws_the_same_rows_as_from_lists(tmp_path, weights, seed):
    cache = tmp_path / "cache"
    chats = load_rows(write_jsonl(tmp_path / "a.jsonl", CHATS), cache_dir=cache)
    instructions = load_rows(write_jsonl(tmp_path / "b.jsonl", INSTRUCTIONS), cache_dir=cache)
    mixed = mix_rows([(chats, weights[0]), (instructions, weights[1])], seed=seed)
    assert listed(mixed) == mix_lists([(CHATS, weights[0]), (INSTRUCTIONS, weights[1])], seed=seed)


def test_one_dataset_is_used_whole_and_in_order(tmp_path):
    chats = load_rows(write_jsonl(tmp_path / "a.jsonl", CHATS), cache_dir=tmp_path / "cache")
    assert listed(mix_rows([(chats, 5.0)], seed=1)) == CHATS


@pytest.mark.parametrize("share", [0.1, 0.25, 0.5])
def test_the_seeded_validation_split_holds_out_the_same_rows(tmp_path, share):
    chats = load_rows(write_jsonl(tmp_path / "a.jsonl", CHATS), cache_dir=tmp_path / "cache")
    train, held = split_rows(chats, None, share, seed=3)
    assert (listed(train), listed(held)) == split_lists(CHATS, share, seed=3)


def test_given_validation_rows_or_no_share_leave_the_training_rows_whole(tmp_path):
    cache = tmp_path / "cache"
    chats = load_rows(write_jsonl(tmp_path / "a.jsonl", CHATS), cache_dir=cache)
    given = load_rows(write_jsonl(tmp_path / "v.jsonl", CHATS[:2]), cache_dir=cache)
    train, held = split_rows(chats, given, 0.5, seed=0)
    assert listed(train) == CHATS and listed(held) == CHATS[:2]
    train, held = split_rows(chats, None, 0.0, seed=0)
    assert listed(train) == CHATS and held is None
