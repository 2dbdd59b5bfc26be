"""The UI's session cookie: Gradio's upload route, mounted beside the API, takes files only from a browser
that logged in to the UI (and no larger than the upload limit); the API says who the cookie signs in until
its token is revoked."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backend import migrate
from backend.api import ui_gate
from backend.cli import build_server
from backend.config import Settings
from backend.db import session_scope
from backend.models.users import ApiToken, Role
from backend.services import users

UPLOAD = "/ui/gradio_api/upload"


@pytest.fixture
def server(tmp_path):
    settings = Settings(home=tmp_path / "home", max_upload_bytes=1 << 20)
    settings.ensure_dirs()
    migrate.upgrade(settings.database_url)
    with session_scope(settings.database_url) as session:
        user, _ = users.create_user(session, "eng", Role.engineer, "engineer-pass")
        token = users.issue_token(session, user)
    client = TestClient(build_server(settings, "http://testserver"))
    client.token, client.settings = token, settings
    return client


def _login_browser(server) -> None:
    ticket = server.post("/api/auth/ui-ticket", headers={"Authorization": f"Bearer {server.token}"})
    assert ticket.status_code == 200, ticket.text
    opened = server.post("/api/auth/ui-session", json=ticket.json())
    assert opened.status_code == 204, opened.text
    cookie = opened.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/;" in cookie + ";"
    assert "secure" not in cookie  # plain HTTP here; over HTTPS the cookie is Secure


def _upload(server, size: int = 100):
    return server.post(UPLOAD, files={"files": ("notes.txt", b"n" * size, "text/plain")})


def test_an_anonymous_upload_is_refused_and_nothing_is_kept(server):
    response = _upload(server)
    assert response.status_code == 401
    assert "log in" in response.json()["message"]
    assert _upload(server, 5 << 20).status_code == 401  # refused before a byte of the body is read


def test_a_logged_in_browser_uploads(server):
    _login_browser(server)
    response = _upload(server)
    assert response.status_code == 200, response.text
    assert len(response.json()) == 1


def test_an_upload_past_the_limit_is_refused_with_413(server):
    _login_browser(server)
    assert _upload(server, 2 << 20).status_code == 413


def test_a_ticket_works_once(server):
    ticket = server.post("/api/auth/ui-ticket", headers={"Authorization": f"Bearer {server.token}"}).json()
    assert server.post("/api/auth/ui-session", json=ticket).status_code == 204
    assert server.post("/api/auth/ui-session", json=ticket).status_code == 401
    assert server.post("/api/auth/ui-session", json={"ticket": "made-up"}).status_code == 401
    assert server.post("/api/auth/ui-ticket").status_code == 401  # a ticket needs a token


def test_a_revoked_token_closes_the_upload_route(server):
    _login_browser(server)
    with session_scope(server.settings.database_url) as session:
        for row in session.query(ApiToken).all():
            row.revoked = True
        session.commit()
    assert _upload(server).status_code == 401


def test_logout_forgets_the_cookie(server):
    _login_browser(server)
    assert server.delete("/api/auth/ui-session").status_code == 204
    assert _upload(server).status_code == 401


def test_tickets_expire(server, monkeypatch):
    monkeypatch.setattr(ui_gate, "TICKET_SECONDS", -1.0)
    ticket = server.post("/api/auth/ui-ticket", headers={"Authorization": f"Bearer {server.token}"}).json()
    assert server.post("/api/auth/ui-session", json=ticket).status_code == 401


def test_the_api_says_who_the_cookie_signs_in_until_logout(server):
    assert server.get("/api/auth/ui-session").status_code == 401
    _login_browser(server)
    me = server.get("/api/auth/ui-session")
    assert me.status_code == 200, me.text
    assert me.json() == {"username": "eng", "role": "engineer"}
    old = server.cookies.get(ui_gate.COOKIE)
    logout = server.post("/api/auth/logout", headers={"Authorization": f"Bearer {server.token}"})
    assert logout.status_code in (200, 204)
    refused = server.get("/api/auth/ui-session", cookies={ui_gate.COOKIE: old})
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]


def test_the_cookie_is_secure_over_https(tmp_path):
    settings = Settings(home=tmp_path / "home")
    settings.ensure_dirs()
    migrate.upgrade(settings.database_url)
    with session_scope(settings.database_url) as session:
        user, _ = users.create_user(session, "eng", Role.engineer, "engineer-pass")
        token = users.issue_token(session, user)
    client = TestClient(build_server(settings, "https://testserver"), base_url="https://testserver")
    ticket = client.post("/api/auth/ui-ticket", headers={"Authorization": f"Bearer {token}"}).json()
    opened = client.post("/api/auth/ui-session", json=ticket)
    assert opened.status_code == 204 and "secure" in opened.headers["set-cookie"].lower()
