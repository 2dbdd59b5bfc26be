"""Format detection, normalisation and containers (JSON array, CSV, Parquet, gzip) on small good samples."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backend.ingest import DatasetInvalid, IngestReport, ingest_file, read_rows

GOOD = Path(__file__).resolve().parents[1] / "data" / "good"


def ingest(tmp_path: Path, src: Path, **options) -> tuple[IngestReport, list[dict]]:
    dest = tmp_path / "out.jsonl"
    report = ingest_file(src, dest, filename=options.pop("filename", src.name), **options)
    return report, read_rows(dest, 0, 1000)


def test_chat_keeps_only_roles_and_contents(tmp_path):
    report, rows = ingest(tmp_path, GOOD / "chat.jsonl")
    assert report.format == "chat" and report.row_count == 3
    assert rows[2] == {
        "messages": [
            {"role": "user", "content": "Name a prime above 10."},
            {"role": "assistant", "content": "11"},
        ]
    }
    assert report.stats["columns"] == ["messages", "source"]


def test_sharegpt_json_array_becomes_messages(tmp_path):
    report, rows = ingest(tmp_path, GOOD / "sharegpt.json")
    assert (report.format, report.stats["container"]) == ("chat", "json")
    assert rows[1]["messages"] == [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "Opposite of cold?"},
        {"role": "assistant", "content": "Hot."},
    ]


def test_instruction_csv_with_quoted_commas_and_empty_input(tmp_path):
    report, rows = ingest(tmp_path, GOOD / "instruction.csv")
    assert (report.format, report.stats["container"], report.row_count) == ("instruction", "csv", 3)
    assert rows[1] == {"instruction": "Count the letters, please.", "input": "apple", "output": "5"}
    assert rows[2]["input"] == ""


def test_preference_strings_messages_and_transcripts(tmp_path):
    report, rows = ingest(tmp_path, GOOD / "preference.jsonl")
    assert report.format == "preference" and report.row_count == 3
    assert rows[0] == {
        "prompt": [{"role": "user", "content": "Is the sky green?"}],
        "chosen": [{"role": "assistant", "content": "No, on a clear day it looks blue."}],
        "rejected": [{"role": "assistant", "content": "Yes."}],
    }
    assert rows[2]["prompt"] == [
        {"role": "user", "content": "Pick a fruit."},
        {"role": "assistant", "content": "Apple."},
        {"role": "user", "content": "Another one?"},
    ]
    assert (rows[2]["chosen"][0]["content"], rows[2]["rejected"][0]["content"]) == ("Pear.", "No.")


def test_kto_labels_in_every_spelling(tmp_path):
    report, rows = ingest(tmp_path, GOOD / "kto.jsonl")
    assert report.format == "unpaired_preference"
    assert [r["label"] for r in rows] == [True, False, True, False]
    assert rows[0]["completion"] == [{"role": "assistant", "content": "Rome."}]


def test_prompt_only_keeps_the_reference_answer(tmp_path):
    report, rows = ingest(tmp_path, GOOD / "prompt_only.jsonl")
    assert report.format == "prompt_only"
    assert rows[0] == {"prompt": [{"role": "user", "content": "What is 6 times 7?"}], "answer": "42"}
    assert rows[1]["answer"] == "5" and rows[1]["prompt"][0]["role"] == "system"


def test_text_and_explicit_format_override(tmp_path):
    report, rows = ingest(tmp_path, GOOD / "text.jsonl", format="text")
    assert (report.format, report.format_detected, len(rows)) == ("text", False, 2)


def test_gzip_and_parquet_containers(tmp_path):
    gz = tmp_path / "chat.bin"  # no telling extension: the magic bytes decide
    gz.write_bytes(gzip.compress((GOOD / "chat.jsonl").read_bytes()))
    report, rows = ingest(tmp_path, gz, filename="upload.bin")
    assert (report.stats["compression"], report.stats["container"], report.row_count) == ("gzip", "jsonl", 3)
    pq_path = tmp_path / "kto.parquet"
    pq.write_table(
        pa.Table.from_pylist([json.loads(x) for x in (GOOD / "text.jsonl").read_text().splitlines()]),
        pq_path,
        row_group_size=1,
    )
    report, rows = ingest(tmp_path, pq_path)
    assert (report.stats["container"], report.format, rows[1]["text"]) == (
        "parquet",
        "text",
        "A second line of plain training text.",
    )


def test_template_builds_a_field_from_columns(tmp_path):
    src = tmp_path / "qa.jsonl"
    src.write_text(json.dumps({"dialogue": "#A#: hi", "summary": "A greets."}) + "\n")
    _report, rows = ingest(
        tmp_path,
        src,
        mapping={"output": "summary"},
        templates={"instruction": "Summarize.\n\n{dialogue}\n\nSummary: "},
    )
    assert rows == [{"instruction": "Summarize.\n\n#A#: hi\n\nSummary: ", "input": "", "output": "A greets."}]
    with pytest.raises(ValueError):
        ingest_file(
            src, tmp_path / "x.jsonl", filename="qa.jsonl", templates={"instruction": "{dialogue.upper}"}
        )


def test_mapping_to_an_absent_column_is_reported(tmp_path):
    src = tmp_path / "qa.jsonl"
    src.write_text(json.dumps({"question": "Q?"}) + "\n")
    with pytest.raises(DatasetInvalid) as caught:
        ingest_file(
            src,
            tmp_path / "o.jsonl",
            filename="qa.jsonl",
            format="instruction",
            mapping={"instruction": "question", "output": "answer_text"},
        )
    (issue,) = caught.value.report.errors
    assert (issue.kind, issue.examples[0].field) == ("missing_field", "answer_text")


def test_warnings_do_not_invalidate(tmp_path):
    src = tmp_path / "w.jsonl"
    row = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "system", "content": "b"},
            {"role": "assistant", "content": "c"},
        ]
    }
    src.write_text(json.dumps(row) + "\n\n" + json.dumps(row) + "\n")
    report, rows = ingest(tmp_path, src)
    assert report.valid and len(rows) == 2
    assert {w.kind: [e.row for e in w.examples] for w in report.warnings} == {
        "system_not_first": [1, 3],
        "blank_line": [2],
        "duplicate_row": [3],
    }


def test_report_stats_hash_the_output(tmp_path):
    report, _ = ingest(tmp_path, GOOD / "chat.jsonl")
    data = (tmp_path / "out.jsonl").read_bytes()
    assert report.stats["sha256"] == hashlib.sha256(data).hexdigest()
    assert report.stats["output_bytes"] == len(data)
    assert (
        json.loads(report.model_dump_json())["stats"]["source_bytes"] == (GOOD / "chat.jsonl").stat().st_size
    )
