"""The parallel byte-range path gives the same bytes and the same report as the single-process pass."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from backend.ingest import DatasetInvalid, IngestReport, ingest_file, parallel
from backend.ingest import ingest as ingest_module

RANGE = 4096  # tiny ranges: dozens per file, so issues, duplicates and the cap land in worker ranges


def _chat(rng: random.Random, n: int) -> dict:
    turns = [{"role": "system", "content": "Be brief."}] if n % 4 == 0 else []
    turns += [{"role": "user", "content": f"q{rng.randint(0, 30)}"}, {"role": "assistant", "content": "a"}]
    if n % 7 == 0:
        turns.insert(1, {"role": "system", "content": "late system"})  # system_not_first warning
    return {"messages": turns, "source": "s"}


def _write(path: Path, lines: list[str], bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + ("\n".join(lines) + "\n").encode())
    return path


class _Started:
    """A pool future that can no longer be cancelled, as if a worker had already picked it up."""

    def __init__(self, future):
        self.future = future

    def cancel(self) -> bool:
        return False

    def result(self):
        return self.future.result()


def _run(
    src: Path, dest: Path, *, split: bool, monkeypatch, here: str = "first", **options
) -> tuple[IngestReport, bytes | None]:
    """here: which ranges the parent validates itself: "first" (the rest go to the worker), "all" (as if
    no worker could start), or "any" (real scheduling)."""
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0 if split else 1 << 62)
    monkeypatch.setattr(parallel, "RANGE_BYTES", RANGE)
    calls, merges = [], []
    real_run, real_submit, real_merge = parallel.run, parallel._submit, parallel._merge

    def submit(pool, tasks):
        if here == "all":
            return [None] * len(tasks)
        futures = real_submit(pool, tasks)
        return futures if here == "any" else [_Started(f) for f in futures]

    monkeypatch.setattr(parallel, "run", lambda *a, **k: calls.append(1) or real_run(*a, **k))
    monkeypatch.setattr(parallel, "_submit", submit)
    monkeypatch.setattr(parallel, "_merge", lambda *a, **k: merges.append(1) or real_merge(*a, **k))
    try:
        report = ingest_file(src, dest, filename=src.name, **options)
    except DatasetInvalid as exc:
        report = exc.report
    assert bool(calls) == split, "the path under test was not taken"
    if split and here == "first":
        assert len(merges) >= 5, "too few ranges"
    return report, dest.read_bytes() if dest.exists() else None


def _same(report: IngestReport) -> dict:
    data = report.model_dump()
    for key in ("elapsed_s", "mb_per_s"):
        data["stats"].pop(key)
    return data


def assert_same_both_ways(
    tmp_path: Path, src: Path, monkeypatch, here: str = "first", **options
) -> IngestReport:
    one, one_bytes = _run(src, tmp_path / "one.jsonl", split=False, monkeypatch=monkeypatch, **options)
    par, par_bytes = _run(
        src, tmp_path / "par.jsonl", split=True, monkeypatch=monkeypatch, here=here, **options
    )
    assert _same(par) == _same(one)
    assert par_bytes == one_bytes
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no parts left
    return par


@pytest.mark.parametrize("here", ["first", "all", "any"])
def test_valid_chat_with_duplicates_across_ranges(tmp_path, monkeypatch, here):
    rng = random.Random(0)
    lines = [json.dumps(_chat(rng, n)) for n in range(3000)]  # q0..q30: many duplicates, far apart
    lines[500] = ""  # blank_line warning in a worker range
    src = _write(tmp_path / "chat.jsonl", lines, bom=True)
    report = assert_same_both_ways(tmp_path, src, monkeypatch, here=here)
    assert report.valid and report.stats["sha256"]
    warnings = {w.kind: w for w in report.warnings}
    assert warnings["duplicate_row"].count > 100
    assert {"system_not_first", "blank_line"} <= set(warnings)


def test_first_duplicate_far_from_its_original(tmp_path, monkeypatch):
    rows = [json.dumps({"text": f"row {n}"}) for n in range(2000)]
    rows += [
        json.dumps({"text": "row 3"}),
        json.dumps({"text": "row 1500"}),
    ]  # last range repeats earlier ones
    rows += ["", json.dumps({"text": 5})]  # then kinds also new to the file: they must follow duplicate_row
    src = _write(tmp_path / "text.jsonl", rows)
    report = assert_same_both_ways(tmp_path, src, monkeypatch)
    assert [w.kind for w in report.warnings] == ["duplicate_row", "blank_line"]
    dup = report.warnings[0]
    assert [e.row for e in dup.examples] == [2001, 2002]


@pytest.mark.parametrize("here", ["first", "all"])
def test_errors_in_many_ranges_keep_global_rows_and_order(tmp_path, monkeypatch, here):
    rng = random.Random(1)
    lines = [json.dumps(_chat(rng, n)) for n in range(3000)]
    for n in (40, 900, 1700, 2500):
        lines[n] = '{"messages": [{"role": "user", "content": "x"'  # invalid_json
    for n in (1200, 2999):
        lines[n] = json.dumps(
            {"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}
        )
    for n in range(2000, 2010):
        lines[n] = json.dumps({"messages": "not a list"})  # wrong_type, more than MAX_EXAMPLES
    src = _write(tmp_path / "bad.jsonl", lines)
    report = assert_same_both_ways(tmp_path, src, monkeypatch, here=here)
    errors = {e.kind: e for e in report.errors}
    assert [e.row for e in errors["invalid_json"].examples] == [41, 901, 1701, 2501]
    assert [e.row for e in errors["unknown_role"].examples] == [1201, 3000]
    assert errors["wrong_type"].count == 10 and [e.row for e in errors["wrong_type"].examples] == [
        2001,
        2002,
        2003,
        2004,
        2005,
    ]


def test_duplicate_cap_falls_in_a_worker_range(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_module, "DUPLICATE_CHECK_ROWS", 1000)
    rows = [json.dumps({"text": f"row {n % 700}"}) for n in range(2500)]
    src = _write(tmp_path / "capped.jsonl", rows)
    report = assert_same_both_ways(tmp_path, src, monkeypatch)
    warnings = {w.kind: w for w in report.warnings}
    assert warnings["duplicate_row"].count == 300  # rows 701..1000 repeat rows 1..300; later rows unchecked
    assert [e.row for e in warnings["duplicate_check_capped"].examples] == [1001]


def test_instances_mapping_and_too_long_warnings(tmp_path, monkeypatch):
    rows = []
    for n in range(1500):
        if n % 5 == 0:
            rows.append(
                json.dumps(
                    {
                        "task": f"t{n % 40}",
                        "instances": [{"input": "", "output": "o" * (n % 90)}, {"input": "i", "output": "p"}],
                    }
                )
            )
        elif n % 11 == 0:
            rows.append(json.dumps({"other": n}))  # missing the mapped column
        else:
            rows.append(json.dumps({"task": f"task {n}", "answer": "x" * (n % 120)}))
    src = _write(tmp_path / "inst.jsonl", rows)
    mapping = {"instruction": "task", "output": "answer"}
    # the mapping sends instances rows through too; missing answers make missing_field errors
    assert_same_both_ways(tmp_path, src, monkeypatch, mapping=mapping, max_chars=100, too_long_is_error=False)
    plain = [
        json.dumps(
            {"instruction": f"i{n % 50}", "instances": [{"output": "o" * (1 + n % 150)}, {"output": "p"}]}
        )
        for n in range(1500)
    ]
    src = _write(tmp_path / "alpaca.jsonl", plain)
    report = assert_same_both_ways(tmp_path, src, monkeypatch, max_chars=100, too_long_is_error=False)
    assert report.valid and report.row_count == 3000
    assert {w.kind for w in report.warnings} >= {"too_long", "duplicate_row"}


@pytest.mark.parametrize("name", ["small.jsonl.gz", "data.csv"])
def test_other_containers_stay_single_process(tmp_path, monkeypatch, name):
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    if name.endswith(".gz"):
        import gzip

        (tmp_path / name).write_bytes(gzip.compress(b'{"text": "a"}\n' * 100))
    else:
        (tmp_path / name).write_text("text\n" + "a\n" * 100)
    assert parallel.plan(tmp_path / name, name, (tmp_path / name).stat().st_size, None, None) is None
