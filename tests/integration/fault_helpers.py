"""Studios on both deployments for the reliability tests: the default install (SQLite + filesystem broker) and
the scaled form (PostgreSQL + Redis), with helpers to kill and restart their processes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

from backend.queue import TRAIN_QUEUE, make_celery
from tests.stack import (
    Studio,
    create_postgres_database,
    drop_postgres_database,
    make_studio,
    redis_url_for_test,
)

KINDS = ["sqlite", "postgres"]


@contextmanager
def studio_of_kind(kind: str, home: Path, *, api: bool = True) -> Iterator[Studio]:
    """A fresh studio: SQLite + filesystem broker, or a new PostgreSQL database + a flushed Redis database."""
    database_url = create_postgres_database() if kind == "postgres" else None
    broker_url = redis_url_for_test() if kind == "postgres" else None
    stack = make_studio(home, database_url=database_url, broker_url=broker_url)
    try:
        if api:
            stack.start_api()
        yield stack
    finally:
        stack.stop()
        if database_url:
            drop_postgres_database(database_url)


def training_children(worker_pid: int) -> list[psutil.Process]:
    """Training processes started by that worker (they carry its pid on their command line)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if (
            "worker.jobs.child" in cmdline
            and "--parent-pid" in cmdline
            and cmdline[cmdline.index("--parent-pid") + 1] == str(worker_pid)
        ):
            found.append(proc)
    return found


def sigkill_worker(proc) -> None:
    """Kill a worker outright (no chance to clean up) and check its training process went with it."""
    wait_until(lambda: training_children(proc.pid), timeout=30, what="the worker's training process")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while training_children(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not training_children(proc.pid), "the training process outlived its worker"


def live_workers(client: httpx.Client) -> list[dict]:
    return client.get("/api/health").json()["workers"]


def wait_until(condition, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def purge_train_queue(stack: Studio) -> None:
    """Drop every message waiting on the train queue (to hand the worker messages in an order of our own)."""
    app = make_celery(stack.settings)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(TRAIN_QUEUE)


@contextmanager
def fresh_install(kind: str, home: Path, like: Studio) -> Iterator[Studio]:
    """An install with nothing in it yet (no migration, no user): where a backup is restored."""
    database_url = create_postgres_database() if kind == "postgres" else None
    broker_url = redis_url_for_test() if kind == "postgres" else None
    env = {**like.env, "AFINA_HOME": str(home)}
    env.pop("AFINA_DATABASE_URL", None)
    if database_url:
        env["AFINA_DATABASE_URL"] = database_url
    if broker_url:
        env["AFINA_BROKER_URL"] = broker_url
    settings = like.settings.model_copy(
        update={"home": home, "database_url": database_url, "broker_url": broker_url, "artifacts_dir": None}
    )
    settings = type(settings)(**settings.model_dump())  # derive the default paths for the new home
    home.mkdir(parents=True)
    stack = Studio(home=home, settings=settings, env=env, token=like.token, tiny_model_id=like.tiny_model_id)
    try:
        yield stack
    finally:
        stack.stop()
        if database_url:
            drop_postgres_database(database_url)
