"""The UI's browser session: an HttpOnly cookie that keeps a login across reloads and gates Gradio's uploads.

The UI logs in on the server side (its event handler calls the API), so page JavaScript never holds the
token. At login the UI's handler asks the API for a one-time ticket (`POST /api/auth/ui-ticket`, with its
token) and hands it to the browser, which trades it (`POST /api/auth/ui-session`) for an HttpOnly,
SameSite=Lax cookie (Secure over HTTPS) holding that token. The cookie does two things:

- a reload or a second tab stays signed in: the UI's page-load handler reads the cookie from the request
  Gradio hands it and checks it with the API (`GET /api/auth/ui-session`);
- Gradio's `/gradio_api/upload` would take anyone's files: `UploadGate` checks the cookie like a bearer
  token on every upload.

A token that expires or is revoked (logout revokes it) makes the cookie worthless everywhere at once.
Tickets live a minute in this process's memory and work once.
"""

from __future__ import annotations

import json
import secrets
import threading
import time

from anyio import to_thread

from backend.config import Settings
from backend.db import session_scope
from backend.services import users
from backend.services.errors import ServiceError

UI_MOUNT = "/ui"  # where backend.cli mounts the Gradio UI
UPLOAD_PATH = f"{UI_MOUNT}/gradio_api/upload"
COOKIE = "afina_ui_session"
COOKIE_PATH = "/"  # the API (GET /api/auth/ui-session) and the UI's routes both see it
TICKET_SECONDS = 60.0
MAX_TICKETS = 10_000  # unused tickets kept at most (a burst of logins cannot grow memory without bound)

_tickets: dict[str, tuple[str, float]] = {}
_lock = threading.Lock()


def issue_ticket(token: str) -> str:
    """A one-time ticket, good for TICKET_SECONDS, that stands for ``token`` at the session exchange."""
    now = time.monotonic()
    ticket = secrets.token_urlsafe(24)
    with _lock:
        for key in [k for k, (_, expires) in _tickets.items() if expires < now]:
            del _tickets[key]
        while len(_tickets) >= MAX_TICKETS:
            del _tickets[next(iter(_tickets))]
        _tickets[ticket] = (token, now + TICKET_SECONDS)
    return ticket


def redeem_ticket(ticket: str) -> str | None:
    """The token a ticket stands for, once; None when unknown, used or expired."""
    with _lock:
        token, expires = _tickets.pop(ticket, (None, 0.0))
    return token if token and expires >= time.monotonic() else None


def _user_for(settings: Settings, token: str) -> bool:
    with session_scope(settings.database_url) as session:
        try:
            users.user_for_token(session, token)
        except ServiceError:
            return False
    return True


class UploadGate:
    """ASGI middleware: an upload to the Gradio UI needs the session cookie of a logged-in user (else 401)."""

    def __init__(self, app, settings: Settings):
        self.app, self.settings = app, settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].rstrip("/") != UPLOAD_PATH:
            await self.app(scope, receive, send)
            return
        token = cookie_value(scope["headers"], COOKIE)
        if token and await to_thread.run_sync(_user_for, self.settings, token):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {"code": "unauthorized", "message": "log in to the UI before uploading files", "details": None}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def cookie_value(headers, name: str) -> str | None:
    """The value of cookie `name` among raw ASGI headers [(b"cookie", b"a=1; b=2"), ...]; None if absent."""
    for key, value in headers:
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name and v:
                    return v
    return None
