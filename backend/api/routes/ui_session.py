"""The UI's upload session: a one-time ticket at login, traded by the browser for an upload cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from backend.api import ui_gate
from backend.api.deps import CurrentUser
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
    """Trade a ticket for the HttpOnly cookie that lets this browser upload files to the UI."""
    token = ui_gate.redeem_ticket(body.ticket)
    if token is None:
        raise Unauthorized("unknown, used or expired UI ticket: log in again")
    response.set_cookie(
        ui_gate.COOKIE,
        token,
        path=ui_gate.UPLOAD_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.delete("/ui-session", status_code=204)
def close_ui_session(response: Response) -> None:
    """Forget this browser's upload cookie (the UI calls it at logout)."""
    response.delete_cookie(ui_gate.COOKIE, path=ui_gate.UPLOAD_PATH, httponly=True, samesite="strict")
