"""AFINA_ENV=prod refuses placeholder and default passwords at start, naming the setting to change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.config import Settings

ROOT = Path(__file__).resolve().parents[2]
STRONG = "postgresql+psycopg://afina:Zq8v1tW4pR7x@db:5432/afina"


@pytest.mark.parametrize(
    ("setting", "url"),
    [
        ("database_url", "postgresql+psycopg://afina:afina@postgres:5432/afina"),  # the old compose file
        ("database_url", "postgresql+psycopg://postgres:postgres@db/afina"),
        ("database_url", "postgresql+psycopg://app:CHANGEME@db/afina"),
        ("database_url", "postgresql+psycopg://studio:studio@db/afina"),
        ("broker_url", "redis://:password@redis:6379/0"),
    ],
)
def test_prod_refuses_a_default_password_and_names_the_setting(tmp_path, setting, url):
    values = {"database_url": STRONG, setting: url}
    with pytest.raises(ValueError, match=f"AFINA_{setting.upper()}") as refused:
        Settings(home=tmp_path, env="prod", **values)
    secret = url.split(":")[-2].split("@")[0] if setting == "database_url" else "password"
    assert f":{secret}@" not in str(refused.value)  # the message names the setting, not the secret


def test_prod_starts_with_real_secrets_and_dev_keeps_its_defaults(tmp_path):
    assert Settings(home=tmp_path, env="prod", database_url=STRONG, broker_url="redis://redis:6379/0")
    assert Settings(home=tmp_path, database_url="postgresql+psycopg://afina:afina@localhost/afina")
    with pytest.raises(ValueError, match="env"):
        Settings(home=tmp_path, env="production")


def test_the_cli_stops_at_start_with_the_message(tmp_path):
    env = {
        **os.environ,
        "AFINA_ENV": "prod",
        "AFINA_HOME": str(tmp_path),
        "AFINA_DATABASE_URL": "postgresql+psycopg://afina:afina@127.0.0.1:1/afina",
    }
    done = subprocess.run(
        [sys.executable, "-m", "backend.cli", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "AFINA_DATABASE_URL" in done.stderr and "Traceback" not in done.stderr, done.stderr
