"""Upload limits: each is refused while the file is read (not after), with a 413/422 naming the limit and its
setting, and nothing is stored. The bombs are built here, small, never committed."""

from __future__ import annotations

import functools
import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backend import ingest, migrate
from backend.config import Settings
from backend.db import session_scope
from backend.ingest import parallel
from backend.models.datasets import Dataset

MiB = 1 << 20
ROW = {"instruction": "Add 2 and 2", "input": "", "output": "4"}


def gzip_stream(total_bytes: int, *, head: bytes = b"", tail: bytes = b"", block: bytes = b"a") -> bytes:
    """A gzip of ``head`` + ``total_bytes`` of ``block`` repeated + ``tail``: gzip members concatenated (one
    stream of bytes once decompressed), so a GiB costs one 16 MiB compression."""
    piece = 16 * MiB
    body = _member(block, piece)
    whole, rest = divmod(total_bytes, piece)
    return gzip.compress(head) + body * whole + _member(block, rest) + gzip.compress(tail)


@functools.lru_cache
def _member(block: bytes, size: int) -> bytes:
    return gzip.compress(block * (size // len(block)), compresslevel=9)


def line_bomb(expanded: int = 1 << 30) -> bytes:
    """A gzip holding one JSONL line of ``expanded`` bytes: about 1 MB per GiB."""
    return gzip_stream(expanded, head=b'{"text": "', tail=b'"}\n')


def parquet_bomb(expanded: int = 2 << 30) -> bytes:
    """A gzip that starts with the Parquet magic and expands to ``expanded`` bytes of zeros."""
    return gzip_stream(expanded, head=b"PAR1", block=b"\0")


@pytest.fixture
def settings(tmp_path) -> Settings:
    settings = Settings(
        home=tmp_path / "home",
        max_upload_bytes=4 * MiB,
        max_decompressed_bytes=32 * MiB,
        max_line_bytes=1 * MiB,
        max_rows=1000,
    )
    settings.ensure_dirs()
    migrate.upgrade(settings.database_url)
    return settings


def _post(api, content: bytes, filename: str = "data.jsonl", **headers):
    return api.post(
        "/api/datasets", files={"file": (filename, content)}, data={"name": "bomb"}, headers=headers
    )


def _nothing_stored(settings: Settings) -> None:
    with session_scope(settings.database_url) as session:
        assert session.query(Dataset).count() == 0
    stored = [p for p in settings.artifacts_dir.rglob("*") if p.is_file()]
    assert stored == [], stored


def _refusal(response, status: int, setting: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert setting in body["message"], body
    assert body["details"]["setting"] == setting
    return body


def test_a_gzip_holding_one_huge_line_is_refused_at_the_line_limit(api, settings):
    bomb = line_bomb(1 << 30)
    assert len(bomb) < 2 * MiB
    body = _refusal(_post(api, bomb, "bomb.jsonl.gz"), 422, "AFINA_MAX_LINE_BYTES")
    assert body["details"]["row"] == 1
    _nothing_stored(settings)


def test_a_gzip_with_parquet_magic_is_refused_at_the_decompressed_limit(api, settings):
    body = _refusal(_post(api, parquet_bomb(2 << 30), "bomb.parquet.gz"), 413, "AFINA_MAX_DECOMPRESSED_BYTES")
    assert body["details"]["value"] == 32 * MiB
    _nothing_stored(settings)


def test_an_expansion_past_the_ratio_is_refused(tmp_path):
    src = tmp_path / "ratio.jsonl.gz"
    src.write_bytes(line_bomb(200 * MiB))  # ~200 KB that expands ~1000x
    limits = ingest.Limits(max_ratio=100)
    with pytest.raises(ingest.LimitExceeded) as refused:
        ingest.ingest_file(src, tmp_path / "out.jsonl", filename=src.name, limits=limits)
    assert refused.value.setting == "AFINA_MAX_DECOMPRESSION_RATIO" and not refused.value.is_size
    assert not (tmp_path / "out.jsonl").exists()


def test_a_small_file_of_repeated_rows_is_not_a_bomb(api):
    rows = "\n".join(json.dumps(ROW) for _ in range(900)).encode()
    packed = gzip.compress(rows)
    assert len(rows) / len(packed) > 100  # compresses better than the ratio limit, and is still fine
    response = _post(api, packed, "repeats.jsonl.gz")
    assert response.status_code == 201, response.text


def test_an_oversize_body_is_refused_with_413_and_nothing_stored(api, settings):
    response = _post(api, b"x" * (5 * MiB))
    _refusal(response, 413, "AFINA_MAX_UPLOAD_BYTES")
    _nothing_stored(settings)


def test_a_body_without_content_length_is_refused_while_it_arrives(api, settings):
    def chunks():  # (the in-process client sends it whole; tests/e2e/test_upload_bombs.py checks the cut-off)
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.jsonl"\r\n\r\n'
        for _ in range(64):
            yield b"x" * MiB
        yield b"\r\n--b--\r\n"

    response = api.post(
        "/api/datasets", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    _refusal(response, 413, "AFINA_MAX_UPLOAD_BYTES")
    _nothing_stored(settings)


def test_too_many_rows_are_refused(api, settings):
    rows = "\n".join(json.dumps({**ROW, "output": str(i)}) for i in range(1001)).encode()
    _refusal(_post(api, rows), 422, "AFINA_MAX_ROWS")
    _nothing_stored(settings)


def test_a_long_line_in_a_plain_file_names_its_row(api, settings):
    lines = [json.dumps(ROW)] * 3 + [json.dumps({**ROW, "output": "x" * (2 * MiB)})]
    body = _refusal(_post(api, "\n".join(lines).encode()), 422, "AFINA_MAX_LINE_BYTES")
    assert body["details"]["row"] == 4


def test_a_huge_element_of_a_json_array_is_refused(api, settings):
    payload = b"[" + json.dumps(ROW).encode() + b', {"text": "' + b"y" * (3 * MiB) + b'"}]'
    _refusal(_post(api, payload, "array.json"), 422, "AFINA_MAX_LINE_BYTES")
    _nothing_stored(settings)


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def test_parquet_is_checked_from_its_footer(api, settings):
    many = pa.table({"text": [f"row {i}" for i in range(1001)]})
    _refusal(_post(api, _parquet(many), "many.parquet"), 422, "AFINA_MAX_ROWS")
    # dictionary-encoded repeats: a small file whose pages decode to far more than the limit
    wide = pa.table({"text": ["z" * (MiB // 2)] * 100})
    packed = _parquet(wide)
    assert len(packed) < 4 * MiB
    _refusal(_post(api, packed, "wide.parquet"), 413, "AFINA_MAX_DECOMPRESSED_BYTES")
    _nothing_stored(settings)


def test_the_parallel_path_refuses_a_long_line_with_its_file_wide_row(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 1 * MiB)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 512 * 1024)
    monkeypatch.setattr(parallel, "_cpus", lambda: 3)
    line = json.dumps(ROW).encode()
    count = (3 * MiB) // (len(line) + 1)
    long_at = count - 10
    with (tmp_path / "big.jsonl").open("wb") as fh:
        for i in range(1, count + 1):
            fh.write(
                (json.dumps({**ROW, "output": "q" * (2 * MiB)}).encode() if i == long_at else line) + b"\n"
            )
    assert parallel.plan(
        tmp_path / "big.jsonl", "big.jsonl", (tmp_path / "big.jsonl").stat().st_size, None, None
    )
    with pytest.raises(ingest.LimitExceeded) as refused:
        ingest.ingest_file(
            tmp_path / "big.jsonl",
            tmp_path / "out.jsonl",
            filename="big.jsonl",
            limits=ingest.Limits(max_line_bytes=1 * MiB),
        )
    assert refused.value.limit == "max_line_bytes" and refused.value.row == long_at
    assert not (tmp_path / "out.jsonl").exists()
