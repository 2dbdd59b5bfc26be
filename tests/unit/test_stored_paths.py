"""Model paths are stored relative to the studio's data folder, resolved in one place, and migrated from the
absolute paths older versions stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from backend import migrate, storage
from backend.config import Settings, get_settings
from backend.db import session_scope
from backend.models.registry import BaseModel
from backend.models.users import Role
from backend.services import registry, users


def test_paths_are_stored_relative_and_resolved_against_the_data_folder(tmp_path):
    old, new = Settings(home=tmp_path / "old"), Settings(home=tmp_path / "new")
    adapter = old.artifacts_dir / "jobs" / "3" / "final"
    bundled = old.models_dir / "SmolLM2-135M-Instruct"
    outside = tmp_path / "my-models" / "llama"
    assert storage.to_stored(old, adapter) == "jobs/3/final"
    assert storage.to_stored(old, bundled) == "models:SmolLM2-135M-Instruct"
    assert storage.to_stored(old, outside) == str(outside)
    assert storage.resolve(new, "jobs/3/final") == new.artifacts_dir / "jobs" / "3" / "final"
    assert storage.resolve(new, "models:SmolLM2-135M-Instruct") == new.models_dir / "SmolLM2-135M-Instruct"
    assert storage.resolve(new, str(outside)) == outside
    for escaping in ("../../etc", "models:../../etc"):
        with pytest.raises(ValueError, match="escapes"):
            storage.resolve(new, escaping)


def test_the_registry_stores_a_relative_path_and_the_api_shows_the_folder(api, settings, tiny_model_dir):
    folder = settings.models_dir / "copy"
    folder.mkdir(parents=True)
    for file in tiny_model_dir.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    with session_scope(settings.database_url) as session:  # registering server folders is for admins
        admin, _ = users.create_user(session, "paths-admin", Role.admin, "admin-password-1")
        admin_token = users.issue_token(session, admin)
    response = api.post(
        "/api/models",
        json={"name": "copy", "path": str(folder)},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["path"] == str(folder.resolve())
    with session_scope(settings.database_url) as session:
        assert session.get(BaseModel, response.json()["id"]).path == "models:copy"
        model = session.get(BaseModel, response.json()["id"])
        assert registry.model_path(settings, model) == folder.resolve()


@pytest.fixture
def home_env(tmp_path, monkeypatch):
    """The migration reads the data folder from the environment, as `afina migrate` does."""
    monkeypatch.setenv("AFINA_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _insert_old_rows(conn, settings: Settings, moved_from) -> None:
    adapter = str(settings.artifacts_dir / "jobs" / "1" / "final")
    old_place_adapter = str(moved_from / "artifacts" / "jobs" / "2" / "final")
    (settings.artifacts_dir / "jobs" / "2" / "final").mkdir(parents=True)
    rows = [
        (1, "base", "bundled", str(settings.models_dir / "SmolLM2"), None, 0),
        (2, "tuned", "job", adapter, 1, 1),
        (3, "moved", "job", old_place_adapter, 1, 1),
        (4, "outside", "local", "/srv/models/llama", None, 0),
    ]
    for row in rows:
        conn.execute(
            text(
                "INSERT INTO base_models (id, name, source, path, parent_model_id, is_adapter, config, "
                "created_at) VALUES (:id, :name, :source, :path, :parent, :adapter, '{}', '2026-01-01')"
            ),
            dict(zip(("id", "name", "source", "path", "parent", "adapter"), row, strict=True)),
        )
    payload = json.dumps(
        {
            "models": [{"id": 2, "path": adapter, "base_path": str(settings.models_dir / "SmolLM2")}],
            "rows_path": str(settings.artifacts_dir / "datasets/1/v1/rows.jsonl"),
        }
    )
    conn.execute(
        text(
            "INSERT INTO inference_requests (id, kind, status, payload, created_at) "
            "VALUES (1, 'generate', 'succeeded', :payload, '2026-01-01')"
        ),
        {"payload": payload},
    )


def test_the_migration_makes_stored_paths_relative_and_back(home_env, tmp_path):
    settings = home_env
    settings.ensure_dirs()
    migrate.upgrade(settings.database_url, "77b92fa567f5")
    engine = create_engine(settings.database_url)
    with engine.begin() as conn:
        _insert_old_rows(conn, settings, moved_from=tmp_path / "gone")
    migrate.upgrade(settings.database_url, "house01")
    with engine.connect() as conn:
        paths = dict(conn.execute(text("SELECT name, path FROM base_models")).all())
        payload = conn.execute(text("SELECT payload FROM inference_requests")).scalar_one()
    assert paths == {
        "base": "models:SmolLM2",
        "tuned": "jobs/1/final",
        "moved": "jobs/2/final",
        "outside": "/srv/models/llama",
    }
    assert '"path": "jobs/1/final"' in payload and '"base_path": "models:SmolLM2"' in payload
    assert '"rows_path": "datasets/1/v1/rows.jsonl"' in payload
    migrate.downgrade(settings.database_url, "77b92fa567f5")
    with engine.connect() as conn:
        paths = dict(conn.execute(text("SELECT name, path FROM base_models")).all())
    assert paths["tuned"] == str(settings.artifacts_dir / "jobs" / "1" / "final")
    assert paths["base"] == str(settings.models_dir / "SmolLM2")
    engine.dispose()
