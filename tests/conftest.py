"""Shared fixtures: a running studio on embedded defaults (SQLite + filesystem broker) and one on the real
PostgreSQL + Redis of this machine. Integration tests fail, never skip, when those services are missing."""

from __future__ import annotations

import os

import pytest

from tests.stack import (
    Studio,
    create_postgres_database,
    drop_postgres_database,
    make_studio,
    redis_url_for_test,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def studio(tmp_path_factory) -> Studio:
    """API + UI, a train worker and an infer worker on embedded defaults: what `make up` runs."""
    stack = make_studio(tmp_path_factory.mktemp("studio"))
    try:
        stack.start_api()
        stack.start_worker("train")
        stack.start_worker("infer")
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def scaled_studio(tmp_path_factory) -> Studio:
    """The scaled form: PostgreSQL + Redis. Workers are started by each test (they kill and restart them)."""
    database_url = create_postgres_database()
    stack = make_studio(
        tmp_path_factory.mktemp("scaled"), database_url=database_url, broker_url=redis_url_for_test()
    )
    try:
        stack.start_api()
        yield stack
    finally:
        stack.stop()
        drop_postgres_database(database_url)
