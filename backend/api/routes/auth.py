"""Login, who am I, tokens and users."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import Admin, CurrentUser, SessionDep
from backend.schemas.users import LoginRequest, TokenCreate, TokenRead, UserCreate, UserCreated, UserRead
from backend.services import users

router = APIRouter(tags=["auth"])


@router.post("/auth/login", response_model=TokenRead)
def login(body: LoginRequest, session: SessionDep) -> TokenRead:
    """Exchange a username and password for an API token."""
    user, token = users.login(session, body.username, body.password)
    return TokenRead(token=token, username=user.username, role=user.role)


@router.get("/auth/me", response_model=UserRead)
def me(user: CurrentUser):
    return user


@router.post("/auth/tokens", response_model=TokenRead, status_code=201)
def create_token(body: TokenCreate, user: CurrentUser, session: SessionDep) -> TokenRead:
    """A new API token for scripts; shown once."""
    return TokenRead(
        token=users.issue_token(session, user, body.name), username=user.username, role=user.role
    )


@router.get("/users", response_model=list[UserRead])
def list_users(_: Admin, session: SessionDep):
    return users.list_users(session)


@router.post("/users", response_model=UserCreated, status_code=201)
def create_user(body: UserCreate, _: Admin, session: SessionDep) -> UserCreated:
    user, password = users.create_user(session, body.username, body.role, body.password)
    token = users.issue_token(session, user, "created")
    return UserCreated(**UserRead.model_validate(user).model_dump(), password=password, token=token)
