"""Failed logins are counted in the database: the limit holds across API processes, on PostgreSQL too."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backend import migrate
from backend.app import create_app
from backend.config import Settings
from backend.db import session_scope
from backend.models.users import Role
from backend.services import users
from tests.stack import create_postgres_database, drop_postgres_database

PASSWORD = "engineer-password-1"


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request, tmp_path):
    database_url = create_postgres_database() if request.param == "postgres" else None
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    settings.ensure_dirs()
    migrate.upgrade(settings.database_url)
    with session_scope(settings.database_url) as session:
        users.create_user(session, "eng", Role.engineer, PASSWORD)
    yield settings
    if database_url:
        drop_postgres_database(database_url)


def test_two_api_processes_share_one_login_limit(settings):
    first, second = TestClient(create_app(settings)), TestClient(create_app(settings))
    wrong = {"username": "eng", "password": "wrong-password-1"}
    for client in (first, second, first, second, first):
        assert client.post("/api/auth/login", json=wrong).status_code == 401
    for client in (first, second):
        limited = client.post("/api/auth/login", json={"username": "eng", "password": PASSWORD})
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) > 0
    token = users.login(settings.model_copy(update={"login_max_failures_per_user": 6}), "eng", PASSWORD, "x")[
        2
    ]
    assert second.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
