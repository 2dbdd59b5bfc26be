"""The UI's browser session: a one-time ticket at login, traded by the browser for an HttpOnly cookie that
keeps it signed in across reloads and lets it upload (backend.api.ui_gate)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from backend.api import ui_gate
from backend.api.deps import CurrentUser, SessionDep
from backend.services import users
from backend.services.errors import Unauthorized

router = APIRouter(prefix="/auth", tags=["auth"])


class UiTicket(BaseModel):
    ticket: str = Field(max_length=100, description="A one-time ticket from POST /api/auth/ui-ticket.")


@router.post("/ui-ticket", response_model=UiTicket)
def ui_ticket(_: CurrentUser, request: Request) -> UiTicket:
    """A one-time ticket (valid a minute) that the UI hands its browser to open an upload session; it
    stands for the token this request was made with."""
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    return UiTicket(ticket=ui_gate.issue_ticket(token))


@router.post("/ui-session", status_code=204)
def open_ui_session(body: UiTicket, request: Request, response: Response) -> None:
    """Trade a ticket for the HttpOnly session cookie: the browser stays signed in to the UI, may upload."""
    token = ui_gate.redeem_ticket(body.ticket)
    if token is None:
        raise Unauthorized("unknown, used or expired UI ticket: log in again")
    response.set_cookie(
        ui_gate.COOKIE,
        token,
        path=ui_gate.COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


class UiSessionUser(BaseModel):
    username: str
    role: str


@router.get("/ui-session", response_model=UiSessionUser)
def read_ui_session(request: Request, session: SessionDep) -> UiSessionUser:
    """Who this browser's session cookie signs in; 401 when there is none or its token was revoked or expired
    (logout revokes it)."""
    token = request.cookies.get(ui_gate.COOKIE)
    if not token:
        raise Unauthorized("no UI session cookie: log in to the UI")
    user = users.user_for_token(session, token)
    return UiSessionUser(username=user.username, role=user.role.value)


@router.delete("/ui-session", status_code=204)
def close_ui_session(response: Response) -> None:
    """Forget this browser's session cookie (the UI calls it at logout, after revoking the token)."""
    response.delete_cookie(ui_gate.COOKIE, path=ui_gate.COOKIE_PATH, httponly=True, samesite="lax")
