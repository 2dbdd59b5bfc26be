"""Login and logout, who am I, API tokens (create, list, revoke) and users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from backend.api.deps import Admin, CurrentToken, CurrentUser, SessionDep, SettingsDep
from backend.models.users import ApiToken, User
from backend.schemas.users import (
    LoginRequest,
    TokenCreate,
    TokenInfo,
    TokenRead,
    UserCreate,
    UserCreated,
    UserRead,
)
from backend.services import users

router = APIRouter(tags=["auth"])


def _token_read(row: ApiToken, secret: str, user: User) -> TokenRead:
    return TokenRead(token=secret, id=row.id, username=user.username, role=user.role, expires_at=row.expires)


# Sync routes: FastAPI runs them in its threadpool, so Argon2 never blocks the event loop.
@router.post("/auth/login", response_model=TokenRead)
def login(body: LoginRequest, request: Request, settings: SettingsDep) -> TokenRead:
    """Exchange a username and password for a login token (lives AFINA_TOKEN_TTL_DAYS).

    429 with Retry-After after too many failed logins for the username or from the address."""
    address = request.client.host if request.client else "unknown"
    user, row, secret = users.login(settings, body.username, body.password.get_secret_value(), address)
    return _token_read(row, secret, user)


@router.post("/auth/logout", status_code=204)
def logout(token: CurrentToken, session: SessionDep) -> Response:
    """Revoke the token this request carries."""
    users.log_out(session, token)
    return Response(status_code=204)


@router.get("/auth/me", response_model=UserRead)
def me(user: CurrentUser):
    return user


@router.post("/auth/tokens", response_model=TokenRead, status_code=201)
def create_token(
    body: TokenCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> TokenRead:
    """A new API token for scripts; its secret is shown once."""
    row, secret = users.request_token(
        session,
        user,
        settings,
        name=body.name,
        expires_in_days=body.expires_in_days,
        never_expires=body.never_expires,
    )
    return _token_read(row, secret, user)


@router.get("/auth/tokens", response_model=list[TokenInfo])
def list_tokens(
    user: CurrentUser,
    session: SessionDep,
    user_id: int | None = Query(None, ge=0, le=2**31 - 1, description="Admins: another user's; 0: all."),
    include_inactive: bool = Query(False, description="Also list revoked and expired tokens."),
):
    """Your tokens (never their secrets), newest first."""
    return users.list_tokens(session, user, user_id=user_id, include_inactive=include_inactive)


@router.delete("/auth/tokens/{token_id}", status_code=204)
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], user: CurrentUser, session: SessionDep
) -> Response:
    """Revoke one of your tokens (admins: anyone's)."""
    users.revoke_token(session, user, token_id)
    return Response(status_code=204)


@router.get("/users", response_model=list[UserRead])
def list_users(_: Admin, session: SessionDep):
    return users.list_users(session)


@router.post("/users", response_model=UserCreated, status_code=201)
def create_user(body: UserCreate, _: Admin, session: SessionDep) -> UserCreated:
    password = body.password.get_secret_value() if body.password else None
    user, password, token = users.create_user_with_token(
        session, body.username, body.role, password, "created"
    )
    return UserCreated(**UserRead.model_validate(user).model_dump(), password=password, token=token)
