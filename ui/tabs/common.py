"""Helpers every tab shares: a client per call, user-facing error text, small formatters."""

from __future__ import annotations

import html
from datetime import datetime

from ui.client import AfinaClient, ApiError

SIGNED_OUT = "Log in to use the studio."


def client_for(api_url: str, token: str | None) -> AfinaClient:
    """A client for one call of one browser session: nothing is shared between sessions."""
    if not token:
        raise ApiError(401, SIGNED_OUT)
    return AfinaClient(api_url, token)


def error_text(exc: ApiError) -> str:
    """The server's message, with a hint where the fix is on the user's side."""
    if exc.status == 401:
        return "Your session has expired or the token was revoked. Log out and log in again."
    if exc.status == 403:
        return f"Not allowed for your role: {exc.message}"
    return exc.message


def error_md(exc: ApiError) -> str:
    return f"**Error:** {html.escape(error_text(exc))}"


def when(value: str | None) -> str:
    """An API timestamp as 'YYYY-MM-DD HH:MM:SS' (UTC), or '' when absent."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def human_bytes(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
