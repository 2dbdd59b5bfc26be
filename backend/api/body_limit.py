"""Cap request bodies while they are received: an upload past its limit is refused before it is spooled whole.

Starlette parses a multipart body into a SpooledTemporaryFile (1 MiB in memory, then disk) before a route
runs, with no size limit of its own. This ASGI middleware refuses with 413 up front when Content-Length is
over the limit, and otherwise counts the body as it arrives and stops reading it the moment it passes the
limit, so neither memory nor temporary disk holds more than the limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from backend.ingest.limits import human

# multipart headers and the small form fields beside the file (name, description, mapping, options)
FORM_OVERHEAD = 1 << 20


@dataclass(frozen=True)
class BodyRule:
    method: str
    path: str
    max_bytes: int
    setting: str


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: ``app.add_middleware(BodyLimit, rules=[BodyRule("POST", "/api/datasets", ...)])``."""

    def __init__(self, app, rules: list[BodyRule]):
        self.app, self.rules = app, rules

    def _rule(self, scope) -> BodyRule | None:
        if scope["type"] != "http":
            return None
        path = scope["path"].rstrip("/") or "/"
        return next((r for r in self.rules if r.method == scope["method"] and r.path == path), None)

    async def __call__(self, scope, receive, send):
        rule = self._rule(scope)
        if rule is None:
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > rule.max_bytes:
            await _refuse(send, rule)
            return
        state = {"received": 0, "exceeded": False, "started": False}

        async def counting_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > rule.max_bytes:
                    state["exceeded"] = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message):
            if state["exceeded"]:
                return  # whatever the app answers to a body it never got whole, the answer is 413
            state["started"] = state["started"] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not state["exceeded"]:
                raise
        if state["exceeded"] and not state["started"]:
            await _refuse(send, rule)


async def _refuse(send, rule: BodyRule) -> None:
    limit = rule.max_bytes - FORM_OVERHEAD
    body = json.dumps(
        {
            "code": "too_large",
            "message": f"the upload is larger than the limit of {human(limit)} ({rule.setting})",
            "details": {"limit": "max_upload_bytes", "setting": rule.setting, "value": limit},
        }
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": 413, "headers": headers + [(b"connection", b"close")]}
    )
    await send({"type": "http.response.body", "body": body})
