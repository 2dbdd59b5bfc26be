"""The scaled form's compose file keeps its shape: services, GPU reservation, shared volumes, same settings."""

from __future__ import annotations

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
