"""Dependency aliases that make route signatures read like sentences."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from backend.api.errors import MAX_INT
from backend.config import Settings
from backend.db import session_scope
from backend.models.users import ApiToken, Role, User
from backend.services import users
from backend.services.errors import Forbidden, Unauthorized
from backend.storage import ArtifactStore


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    with session_scope(settings.database_url) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_store(settings: SettingsDep) -> ArtifactStore:
    return ArtifactStore(settings.artifacts_dir)


StoreDep = Annotated[ArtifactStore, Depends(get_store)]

_bearer = HTTPBearer(
    auto_error=False, description="An API token: `afina create-user --print-token`, or login."
)


def get_current_token(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ApiToken:
    """The live token the request carries (only ever in the Authorization header, never in a query string,
    so access logs never hold one); 401 saying why when it is missing, unknown, revoked or expired."""
    if credentials is None:
        raise Unauthorized("missing API token: send 'Authorization: Bearer <token>'")
    return users.token_for_secret(session, credentials.credentials)


CurrentToken = Annotated[ApiToken, Depends(get_current_token)]


def get_current_user(token: CurrentToken) -> User:
    return token.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require(*roles: Role):
    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"role '{user.role.value}' may not do this (needs one of: {allowed})")
        return user

    return Depends(check)


# Engineers (and admins) run the studio; labelers only label.
Engineer = Annotated[User, require(Role.admin, Role.engineer)]
Admin = Annotated[User, require(Role.admin)]


# Every id in a path: a positive 64-bit integer, so an id no database can hold is a 422, not an overflow.
ResourceId = Annotated[int, Path(ge=1, le=MAX_INT, description="A positive integer id.")]


# How long a request that a worker answers (generation, preview, profile) may hold the call open.
WAIT = Query(
    0.0, ge=0.0, le=600.0, description="Seconds to wait for the answer before returning (0 = at once)."
)
