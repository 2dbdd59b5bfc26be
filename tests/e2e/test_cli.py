"""The `afina` CLI is scriptable: create-user --print-token prints a working API token as its last line."""

from __future__ import annotations

import subprocess
import sys

import httpx


def test_create_user_prints_a_token_that_works(studio):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "backend.cli",
            "create-user",
            "--username",
            "script-bot",
            "--role",
            "engineer",
            "--print-token",
        ],
        env=studio.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("afn_")
    me = httpx.get(f"{studio.url}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "engineer"


def test_a_labeler_cannot_start_jobs(studio):
    admin = studio.client()
    created = admin.post("/api/users", json={"username": "labeler-1", "role": "labeler"})
    assert created.status_code == 201
    labeler = studio.client(created.json()["token"])
    response = labeler.get("/api/jobs")
    assert response.status_code == 403
    assert "labeler" in response.json()["message"]


def test_login_with_password_gives_a_token(studio):
    response = httpx.post(
        f"{studio.url}/api/auth/login",
        json={"username": studio.admin_username, "password": studio.admin_password},
    )
    assert response.status_code == 200
    bad = httpx.post(f"{studio.url}/api/auth/login", json={"username": "admin", "password": "nope"})
    assert bad.status_code == 401


def test_help_explains_each_command():
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("up", "api", "worker", "migrate", "create-user"):
        assert command in result.stdout
