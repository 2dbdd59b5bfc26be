"""Every file of the bad-upload corpus is refused with the right error kind and rows, leaving nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.ingest import DatasetInvalid, ingest_file

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"

# file -> (error kind, rows of its examples, field of the first example, extra ingest options)
EXPECTED = {
    "empty.jsonl": ("empty_file", [None], None, {}),
    "blank_lines_only.jsonl": ("no_rows", [None], None, {}),
    "invalid_json_line7.jsonl": ("invalid_json", [7], None, {}),
    "missing_messages.jsonl": ("missing_field", [2], "messages", {}),
    "unknown_role.jsonl": ("unknown_role", [3], "messages[1].role", {}),
    "not_ending_with_assistant.jsonl": ("not_ending_with_assistant", [2], "messages[2]", {}),
    "identical_chosen_rejected.jsonl": ("identical_chosen_rejected", [1], "chosen", {}),
    "invalid_utf8.jsonl": ("invalid_encoding", [4], None, {}),
    "wrong_type.jsonl": ("wrong_type", [2], "output", {}),
    "empty_content.jsonl": ("empty_field", [3], "messages[1].content", {}),
    "truncated_array.json": ("invalid_json", [3], None, {}),
    "missing_column.csv": ("missing_field", [3], "output", {}),
    "wrong_columns.parquet": ("unknown_format", [1], None, {}),
    "gzipped_bad.jsonl.gz": ("invalid_json", [2], None, {}),
    "unsplittable_transcript.jsonl": ("unsplittable_transcript", [2], "chosen", {}),
    "too_long.jsonl": ("too_long", [3], None, {"max_chars": 1000}),
    "bad_kto_label.jsonl": ("invalid_label", [2], "label", {}),
    "not_an_object.jsonl": ("not_an_object", [2], None, {}),
    "unknown_format.jsonl": ("unknown_format", [1], None, {}),
    "prompt_ends_with_assistant.jsonl": ("not_ending_with_user", [1], "prompt", {}),
    "sharegpt_bad_from.json": ("unknown_role", [1], "conversations[0].from", {}),
    "corrupt.parquet": ("unreadable_file", [None], None, {}),
}


def test_corpus_is_complete():
    on_disk = {p.name for p in BAD.iterdir() if p.suffix != ".py"}
    assert set(EXPECTED) <= on_disk, "run tests/data/bad/make_bad_files.py"
    assert len(EXPECTED) >= 15


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_is_refused(name, tmp_path):
    kind, rows, field, options = EXPECTED[name]
    dest = tmp_path / "out.jsonl"
    with pytest.raises(DatasetInvalid) as caught:
        ingest_file(BAD / name, dest, filename=name, **options)
    report = caught.value.report
    assert not report.valid
    errors = {issue.kind: issue for issue in report.errors}
    assert list(errors) == [kind], report.summary()
    assert [e.row for e in errors[kind].examples] == rows
    assert errors[kind].examples[0].field == field
    assert errors[kind].message  # a human instruction, not just a code
    assert list(tmp_path.iterdir()) == []  # no output and no temp file left behind


def test_all_error_kinds_are_collected_in_one_pass(tmp_path):
    with pytest.raises(DatasetInvalid) as caught:
        ingest_file(BAD / "many_errors.jsonl", tmp_path / "o.jsonl", filename="many_errors.jsonl")
    report = caught.value.report
    found = {i.kind: [e.row for e in i.examples] for i in report.errors}
    assert found == {"invalid_json": [2, 5], "unknown_role": [3], "wrong_type": [4]}
    assert {i.kind: i.count for i in report.errors}["invalid_json"] == 2
    json.loads(report.model_dump_json())  # the report is what the API returns: it must serialise


def test_gzip_is_detected_by_magic_bytes_not_name(tmp_path):
    with pytest.raises(DatasetInvalid) as caught:
        ingest_file(BAD / "gzipped_bad.jsonl.gz", tmp_path / "o.jsonl", filename="upload.jsonl")
    assert caught.value.report.stats["compression"] == "gzip"
    assert caught.value.report.errors[0].kind == "invalid_json"


def test_too_long_can_be_a_warning(tmp_path):
    report = ingest_file(
        BAD / "too_long.jsonl",
        tmp_path / "o.jsonl",
        filename="t.jsonl",
        max_chars=1000,
        too_long_is_error=False,
    )
    assert report.valid and report.row_count == 3
    assert [(w.kind, w.examples[0].row) for w in report.warnings] == [("too_long", 3)]


def test_examples_are_capped_at_five(tmp_path):
    src = tmp_path / "many.jsonl"
    src.write_text("".join('{"text": 1}\n' for _ in range(12)))
    with pytest.raises(DatasetInvalid) as caught:
        ingest_file(src, tmp_path / "o.jsonl", filename="many.jsonl", format="text")
    (issue,) = caught.value.report.errors
    assert issue.count == 12 and [e.row for e in issue.examples] == [1, 2, 3, 4, 5]
