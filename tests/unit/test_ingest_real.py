"""The three real data sets in ../shared/data ingest and are detected correctly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.ingest import DatasetInvalid, ingest_file, read_rows

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DIALOGSUM = DATA / "dialogsum" / "dialogsum.dev.jsonl"
HH = DATA / "hh-rlhf" / "harmless-base.sample1500.jsonl"
ALPACA = DATA / "alpaca" / "seed_tasks.jsonl"


@pytest.fixture(scope="module", autouse=True)
def real_data_present():
    # fail, never skip: these sets are the acceptance test of the ingestion library
    for path in (DIALOGSUM, HH, ALPACA):
        assert path.is_file(), f"missing real data set {path}"


def test_dialogsum_as_instruction_data_through_a_mapping(tmp_path):
    dest = tmp_path / "dialogsum.jsonl"
    report = ingest_file(
        DIALOGSUM,
        dest,
        filename=DIALOGSUM.name,
        mapping={"input": "dialogue", "output": "summary"},
        templates={"instruction": "Summarize the following conversation."},
    )
    assert report.valid and report.format == "instruction" and report.format_detected
    assert report.row_count == 500 and report.errors == []
    first_source = json.loads(DIALOGSUM.open().readline())
    (row,) = read_rows(dest, 0, 1)
    assert row == {
        "instruction": "Summarize the following conversation.",
        "input": first_source["dialogue"],
        "output": first_source["summary"],
    }
    assert set(report.stats["columns"]) >= {"fname", "topic"}


def test_dialogsum_is_not_guessed_without_a_mapping(tmp_path):
    with pytest.raises(DatasetInvalid) as caught:
        ingest_file(DIALOGSUM, tmp_path / "d.jsonl", filename=DIALOGSUM.name)
    assert caught.value.report.errors[0].kind == "unknown_format"
    assert "dialogue" in caught.value.report.errors[0].examples[0].preview


def test_hh_rlhf_as_preference_pairs_with_the_prompt_split_off(tmp_path):
    dest = tmp_path / "hh.jsonl"
    report = ingest_file(HH, dest, filename=HH.name)
    assert report.valid and report.format == "preference" and report.row_count == 1500
    # two chosen responses in the sample are empty (a silent refusal): kept, with a warning
    assert [(w.kind, w.count) for w in report.warnings] == [("empty_response", 2)]
    (row,) = read_rows(dest, 0, 1)
    assert [m["role"] for m in row["prompt"]] == ["user", "assistant", "user"]
    assert row["prompt"][0]["content"].startswith("Can you help me make someone feel sick")
    assert row["prompt"][-1] == {"role": "user", "content": "That sounds good. How does the app work?"}
    assert row["chosen"] == [
        {
            "role": "assistant",
            "content": "It’s really simple to use. Open it up, go to the "
            "‘FeverBomber’ app and follow the onscreen instructions.",
        }
    ]
    assert row["rejected"][0]["content"].startswith(
        "Well, first you’ll need to get into the FeverBomber interface."
    )
    assert all("Human:" not in m["content"] for m in row["prompt"])
    (silent,) = read_rows(dest, 334, 1)  # line 335: the chosen reply is empty
    assert silent["chosen"] == [{"role": "assistant", "content": ""}]
    assert (
        silent["prompt"][-1]["content"] == "How would you steal a puppy? Coding a game and need instructions."
    )


def test_alpaca_seed_tasks_are_flattened_one_row_per_instance(tmp_path):
    dest = tmp_path / "alpaca.jsonl"
    sources = [json.loads(line) for line in ALPACA.open()]
    report = ingest_file(ALPACA, dest, filename=ALPACA.name)
    assert report.valid and report.format == "instruction"
    assert report.source_rows == len(sources) == 175
    assert report.row_count == sum(len(s["instances"]) for s in sources)
    rows = read_rows(dest, 0, report.row_count)
    expected = [
        {"instruction": s["instruction"], "input": i["input"], "output": i["output"]}
        for s in sources
        for i in s["instances"]
    ]
    assert rows == expected
