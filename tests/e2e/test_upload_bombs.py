"""Bomb files against a real API process: each is refused early, the process tree's memory and the temporary
disk stay bounded while it is, and nothing is stored. (Before the limits, a 1 MB gzip holding a 1 GiB line
raised the API's memory by 3.1 GB and was stored as valid.)"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.stack import make_studio
from tests.unit.test_upload_limits import line_bomb, parquet_bomb

MiB = 1 << 20
RSS_BOUND = 200 * MiB  # growth of the API process tree while it refuses a bomb (the bug: 3.1 GB)


class Peaks:
    """Samples the process tree's RSS and the size of some folders until stopped; keeps the peaks."""

    def __init__(self, pid: int, folders: list[Path]):
        self.process, self.folders = psutil.Process(pid), folders
        self._roots = tuple(str(folder) for folder in folders)
        self.rss = self.disk = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _disk(self) -> int:
        """Bytes in the folders, plus deleted-but-open files there (a TemporaryFile has no name)."""
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            fds = Path(f"/proc/{proc.pid}/fd")
            try:
                for fd in fds.iterdir():
                    target = os.readlink(fd)
                    if target.endswith("(deleted)") and target.startswith(self._roots):
                        total += fd.stat().st_size
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass
        for folder in self.folders:
            for path in folder.rglob("*"):
                try:
                    total += path.stat().st_size if path.is_file() else 0
                except FileNotFoundError:
                    pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.rss, self.disk = max(self.rss, self._tree_rss()), max(self.disk, self._disk())
            time.sleep(0.01)

    def __enter__(self):
        self.baseline = self._tree_rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def rss_growth(self) -> int:
        return self.rss - self.baseline

    def __str__(self) -> str:
        return f"RSS grew {self.rss_growth / MiB:.0f} MiB, temp disk peaked at {self.disk / MiB:.0f} MiB"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    home = tmp_path_factory.mktemp("bombs")
    studio = make_studio(home)
    temp = home / "tmp"
    temp.mkdir()
    studio.env.update(TMPDIR=str(temp), AFINA_MAX_UPLOAD_BYTES=str(16 * MiB))
    studio.start_api()
    studio.temp = temp
    try:
        yield studio
    finally:
        studio.stop()


def _folders(api) -> list[Path]:
    return [api.temp, api.settings.artifacts_dir]


def _post(api, content, filename: str, **headers) -> httpx.Response:
    with api.client() as client:
        return client.post(
            "/api/datasets", files={"file": (filename, content)}, data={"name": filename}, headers=headers
        )


def _nothing_stored(api) -> None:
    with api.client() as client:
        assert client.get("/api/datasets", params={"include_archived": True}).json() == []
    leftovers = [p for folder in _folders(api) for p in folder.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers


def test_a_small_gzip_holding_a_1_gib_line(api):
    bomb = line_bomb(1 << 30)
    with Peaks(api.processes[0].pid, _folders(api)) as peaks:
        response = _post(api, bomb, "bomb.jsonl.gz")
    print(f"1 GiB line in a {len(bomb) / MiB:.1f} MiB gzip: {peaks}")
    assert response.status_code == 422, response.text
    assert "AFINA_MAX_LINE_BYTES" in response.json()["message"]
    assert peaks.rss_growth < RSS_BOUND, f"RSS grew {peaks.rss_growth / MiB:.0f} MiB"
    assert peaks.disk < 3 * len(bomb) + 16 * MiB, f"temp disk peaked at {peaks.disk / MiB:.0f} MiB"
    _nothing_stored(api)


def test_a_gzip_with_parquet_magic_expanding_to_2_gib(api):
    bomb = parquet_bomb(2 << 30)
    with Peaks(api.processes[0].pid, _folders(api)) as peaks:
        response = _post(api, bomb, "bomb.parquet.gz")
    print(f"Parquet magic + 2 GiB in a {len(bomb) / MiB:.1f} MiB gzip: {peaks}")
    assert response.status_code == 422, response.text
    assert "AFINA_MAX_DECOMPRESSION_RATIO" in response.json()["message"]
    # the spill stops at 100x the upload (the bug: about 2 GiB spilled before the refusal)
    assert peaks.disk < 100 * len(bomb) + 32 * MiB, f"temp disk peaked at {peaks.disk / MiB:.0f} MiB"
    assert peaks.rss_growth < RSS_BOUND, f"RSS grew {peaks.rss_growth / MiB:.0f} MiB"
    _nothing_stored(api)


def test_an_oversize_body_is_cut_off_as_it_arrives(api):
    sent = []

    def body():
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n\r\n'
        for _ in range(256):
            sent.append(MiB)
            yield b"x" * MiB
        yield b"\r\n--b--\r\n"

    with Peaks(api.processes[0].pid, _folders(api)) as peaks:
        try:
            response = _post_stream(api, body())
        except httpx.TransportError:  # the server may close the connection before the client stops sending
            response = None
    print(f"256 MiB body, 16 MiB limit: {len(sent)} MiB sent; {peaks}")
    if response is not None:
        assert response.status_code == 413, response.text
        assert "AFINA_MAX_UPLOAD_BYTES" in response.json()["message"]
    assert peaks.disk < 24 * MiB, f"temp disk peaked at {peaks.disk / MiB:.0f} MiB"
    assert len(sent) < 256
    _nothing_stored(api)


def _post_stream(api, content) -> httpx.Response:
    with api.client() as client:
        return client.post(
            "/api/datasets", content=content, headers={"Content-Type": "multipart/form-data; boundary=b"}
        )


def test_a_declared_oversize_body_is_refused_before_it_is_read(api):
    host, port = api.url.removeprefix("http://").split(":")
    head = (
        f"POST /api/datasets HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {api.token}\r\n"
        f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {1 << 40}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head.encode() + b"x" * 1024)  # a terabyte announced, a kilobyte sent
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 413 " in status_line, answer
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["details"]["setting"] == "AFINA_MAX_UPLOAD_BYTES"
