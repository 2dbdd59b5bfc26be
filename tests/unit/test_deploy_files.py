"""The scaled form's compose file keeps its shape: services, GPU reservation, shared volumes, settings."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_runs_the_scaled_form():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "api", "worker-train", "worker-infer"} <= set(services)
    env = services["api"]["environment"]
    assert env["AFINA_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["AFINA_BROKER_URL"].startswith("redis://")
    assert services["worker-train"]["environment"] == env  # every process sees the same settings
    devices = services["worker-train"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("api", "worker-train", "worker-infer", "migrate"):
        assert "afina-data:/data" in services[name]["volumes"], name
    assert services["worker-train"]["command"][:2] == ["afina", "worker"]


def _compose_config(env: dict) -> subprocess.CompletedProcess:
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is needed to check docker-compose.yml (apt-get install docker-compose)"
    return subprocess.run(
        [compose, "config"], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120
    )


def test_compose_takes_its_secrets_from_the_environment():
    """`docker-compose config` refuses to render without POSTGRES_PASSWORD and renders with it; no password is
    written in the file."""
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    refused = _compose_config(env)
    assert refused.returncode != 0 and "set POSTGRES_PASSWORD" in refused.stderr, refused.stderr
    env["POSTGRES_PASSWORD"] = "a-real-secret-7f3c"
    rendered = _compose_config(env)
    assert rendered.returncode == 0, rendered.stderr
    services = yaml.safe_load(rendered.stdout)["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "a-real-secret-7f3c"
    url = services["api"]["environment"]["AFINA_DATABASE_URL"]
    assert url == "postgresql+psycopg://afina:a-real-secret-7f3c@postgres:5432/afina"
    assert services["api"]["environment"]["AFINA_ENV"] == "prod"
