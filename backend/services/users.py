"""Users and API tokens: create, authenticate, and bootstrap the first admin."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db import utcnow
from backend.models.users import ApiToken, Role, User
from backend.security import digest_token, hash_password, new_password, new_token, verify_password
from backend.services.errors import Conflict, NotFound, Unauthorized


def create_user(session: Session, username: str, role: Role, password: str | None = None) -> tuple[User, str]:
    """Create a user; returns it with its password (generated when none is given)."""
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"user '{username}' already exists", code="user_exists")
    password = password or new_password()
    user = User(username=username, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user, password


def issue_token(session: Session, user: User, name: str = "api") -> str:
    """A new API token for `user`; only its digest is stored, so this is the one time it is seen."""
    token = new_token()
    session.add(ApiToken(user_id=user.id, name=name, token_hash=digest_token(token), prefix=token[:10]))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User:
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == digest_token(token), ApiToken.revoked.is_(False))
    )
    if row is None or not row.user.is_active:
        raise Unauthorized("invalid or revoked API token")
    row.last_used_at = utcnow()
    return row.user


def login(session: Session, username: str, password: str) -> tuple[User, str]:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active or not verify_password(password, user.password_hash):
        raise Unauthorized("wrong username or password")
    return user, issue_token(session, user, name="login")


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def bootstrap_admin(session: Session) -> tuple[str, str, str] | None:
    """On first start: create `admin` and return (username, password, token); None when users exist."""
    if session.scalar(select(func.count(User.id))):
        return None
    user, password = create_user(session, "admin", Role.admin)
    return user.username, password, issue_token(session, user, name="bootstrap")
