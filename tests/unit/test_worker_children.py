"""`afina up` restarts a worker that died, waiting longer after each quick death, and says so."""

from __future__ import annotations

import sys
import time

from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from backend import migrate
from backend.children import WorkerChildren
from backend.cli import app
from backend.config import get_settings


def test_a_dying_worker_is_restarted_with_exponential_backoff(tmp_path):
    said: list[str] = []
    children = WorkerChildren(say=said.append, base_backoff=0.2, max_backoff=0.8, poll_every=0.05)
    children.start("train", [sys.executable, "-c", "raise SystemExit(3)"], str(tmp_path / "w.log"))
    children.watch()
    try:
        deadline = time.monotonic() + 60
        while sum("exited with code 3" in m for m in said) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        children.stop()
    exits = [m for m in said if "exited with code 3" in m]
    assert [m.split("restarting it in ")[1].split(" s")[0] for m in exits[:4]] == ["0.2", "0.4", "0.8", "0.8"]
    assert sum(m.startswith("Restarted the train worker") for m in said) >= 3


def test_a_healthy_worker_is_left_alone_and_stopped_with_the_studio(tmp_path):
    said: list[str] = []
    children = WorkerChildren(say=said.append, poll_every=0.05)
    children.start("infer", [sys.executable, "-c", "import time; time.sleep(60)"], str(tmp_path / "w.log"))
    children.watch()
    time.sleep(0.5)
    proc = children.children[0].proc
    children.stop()
    assert said == []
    assert proc.poll() is not None


def test_downgrade_asks_for_a_revision(tmp_path, monkeypatch):
    monkeypatch.setenv("AFINA_HOME", str(tmp_path))  # were it to run, it would touch only this folder
    get_settings.cache_clear()
    migrate.upgrade(get_settings().database_url)
    result = CliRunner().invoke(app, ["downgrade"])
    get_settings.cache_clear()
    assert result.exit_code == 2
    assert "missing argument" in result.output.lower()
    engine = create_engine(f"sqlite:///{tmp_path / 'afina.db'}")
    assert "jobs" in inspect(engine).get_table_names()  # nothing was reverted
    engine.dispose()
