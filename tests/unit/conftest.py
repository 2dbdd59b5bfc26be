"""An in-process API on a temporary SQLite database (no workers): for validation and storage tests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backend import migrate
from backend.app import create_app
from backend.config import Settings
from backend.db import session_scope
from backend.models.users import Role
from backend.services import registry, users


@pytest.fixture
def settings(tmp_path) -> Settings:
    settings = Settings(home=tmp_path / "home")
    settings.ensure_dirs()
    migrate.upgrade(settings.database_url)
    return settings


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from worker.training.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def api(settings, tiny_model_dir):
    """A client with an engineer's token on a fresh database with the tiny model registered."""
    with session_scope(settings.database_url) as session:
        user, _ = users.create_user(session, "eng", Role.engineer, "engineer-pass")
        token = users.issue_token(session, user)
        model_id = registry.register_model(session, "tiny", tiny_model_dir, settings=settings).id
    client = TestClient(create_app(settings))
    client.headers["Authorization"] = f"Bearer {token}"
    client.model_id = model_id
    return client
