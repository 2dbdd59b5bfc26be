"""Users and API tokens: create, log in (rate limited), authenticate, list and revoke tokens, first admin.

Token lifecycle: every token has an expiry (`Settings.token_ttl_days` unless asked otherwise; beyond
`token_max_ttl_days`, or never, only for admins and the CLI), is listed and revoked by its owner and by
admins, and the one a client logged out with is revoked. A browser session cookie (a later UI issue) can
carry such a login token too, so logout and expiry already hold for it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.config import DEFAULT_TOKEN_TTL_DAYS, Settings
from backend.db import session_scope, utcnow
from backend.models.users import ApiToken, LoginAttempt, Role, User
from backend.security import (
    PASSWORD_POLICY,
    digest_token,
    hash_password,
    new_password,
    new_token,
    password_problems,
    verify_password,
)
from backend.services.errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests, Unauthorized

# last_used_at is a hint for people, not an audit log: write it at most this often per token.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored one is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def check_password(password: str, username: str) -> None:
    """Refuse a weak password with a 422 that names the rules it breaks (never the password itself)."""
    problems = password_problems(password, username)
    if problems:
        raise Invalid(
            f"password refused: it {'; it '.join(problems)}. The policy: {PASSWORD_POLICY}.",
            details=[{"field": "password", "message": problem} for problem in problems],
            code="weak_password",
        )


def create_user(session: Session, username: str, role: Role, password: str | None = None) -> tuple[User, str]:
    """Create a user; returns it with its password (generated when none is given)."""
    user, password = _add_user(session, username, role, password)
    session.commit()
    return user, password


def create_user_with_token(
    session: Session,
    username: str,
    role: Role,
    password: str | None,
    token_name: str,
    *,
    ttl_days: float | None = DEFAULT_TOKEN_TTL_DAYS,
) -> tuple[User, str, str]:
    """Create a user and a first token in one transaction; returns (user, password, token secret)."""
    user, password = _add_user(session, username, role, password)
    secret = _add_token(session, user, token_name, ttl_days)[1]
    session.commit()
    return user, password, secret


def _add_user(session: Session, username: str, role: Role, password: str | None) -> tuple[User, str]:
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"user '{username}' already exists", code="user_exists")
    if password is None:
        password = new_password(username)
    check_password(password, username)
    user = User(username=username, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user, password


def _expiry(ttl_days: float | None) -> datetime | None:
    return None if ttl_days is None else utcnow() + timedelta(days=ttl_days)


def create_token(
    session: Session, user: User, name: str = "api", *, ttl_days: float | None = DEFAULT_TOKEN_TTL_DAYS
) -> tuple[ApiToken, str]:
    """A new token for `user` living `ttl_days` (None: never expires); returns its row and its secret.

    Only the digest is stored, so this is the one time the secret is seen. No policy here: callers decide."""
    row, secret = _add_token(session, user, name, ttl_days)
    session.commit()
    return row, secret


def _add_token(session: Session, user: User, name: str, ttl_days: float | None) -> tuple[ApiToken, str]:
    secret = new_token()
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=digest_token(secret),
        prefix=secret[:10],
        expires_at=_expiry(ttl_days),
    )
    session.add(row)
    session.flush()
    return row, secret


def issue_token(
    session: Session, user: User, name: str = "api", *, ttl_days: float | None = DEFAULT_TOKEN_TTL_DAYS
) -> str:
    """The secret of a new token for `user` (see create_token)."""
    return create_token(session, user, name, ttl_days=ttl_days)[1]


def request_token(
    session: Session,
    caller: User,
    settings: Settings,
    *,
    name: str,
    expires_in_days: float | None,
    never_expires: bool,
) -> tuple[ApiToken, str]:
    """A token the caller asks for through the API: the default lifetime unless they ask for another; more
    than `token_max_ttl_days`, or no expiry at all, only for admins."""
    if never_expires and expires_in_days is not None:
        raise Invalid(
            "give either expires_in_days or never_expires, not both",
            details=[{"field": "never_expires", "message": "conflicts with expires_in_days"}],
        )
    ttl = None if never_expires else (expires_in_days or settings.token_ttl_days)
    if caller.role != Role.admin and (ttl is None or ttl > settings.token_max_ttl_days):
        asked = "a token that never expires" if ttl is None else f"a token for {ttl:g} days"
        raise Forbidden(
            f"{asked} needs an admin: engineers and labelers may ask for at most "
            f"{settings.token_max_ttl_days:g} days (AFINA_TOKEN_MAX_TTL_DAYS)",
            code="token_lifetime",
        )
    return create_token(session, caller, name, ttl_days=ttl)


def token_for_secret(session: Session, secret: str) -> ApiToken:
    """The live token row for a bearer secret; 401 saying why when it is unknown, revoked or expired."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest_token(secret)))
    if row is None:
        raise Unauthorized("invalid API token: log in again or create a new token", code="token_invalid")
    if row.revoked:
        raise Unauthorized(
            "this API token was revoked: log in again or create a new token", code="token_revoked"
        )
    now = utcnow()
    expires_at = row.expires
    if expires_at is not None and expires_at <= now:
        raise Unauthorized(
            f"this API token expired at {expires_at.isoformat(timespec='seconds')}: log in again",
            code="token_expired",
        )
    if not row.user.is_active:
        raise Unauthorized("this user is deactivated", code="user_inactive")
    last_used = _aware(row.last_used_at)
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.commit()
    return row


def user_for_token(session: Session, secret: str) -> User:
    return token_for_secret(session, secret).user


def list_tokens(
    session: Session, caller: User, *, user_id: int | None = None, include_inactive: bool = False
) -> list[ApiToken]:
    """The caller's tokens, newest first (an admin may name another user, or user_id=0 for everyone's)."""
    owner_id = caller.id if user_id is None else user_id
    if owner_id != caller.id and caller.role != Role.admin:
        raise Forbidden("only admins may list another user's tokens")
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if owner_id:
        query = query.where(ApiToken.user_id == owner_id)
    if not include_inactive:
        query = query.where(
            ApiToken.revoked.is_(False), (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > utcnow())
        )
    return list(session.scalars(query))


def _revoke(row: ApiToken) -> None:
    if not row.revoked:
        row.revoked, row.revoked_at = True, utcnow()


def log_out(session: Session, token: ApiToken) -> None:
    """Revoke the token a request carries (logout ends the session on the server)."""
    _revoke(token)
    session.commit()


def revoke_token(session: Session, caller: User, token_id: int) -> ApiToken:
    """Revoke one of the caller's tokens (admins: anyone's). Revoking twice is harmless."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != caller.id and caller.role != Role.admin):
        raise NotFound(f"token {token_id} not found")
    _revoke(row)
    session.commit()
    return row


def _retry_after(session: Session, column, key: str, limit: int, window: timedelta) -> int | None:
    """Seconds until `key` may try again, or None when it is under `limit` failures in the window."""
    now = utcnow()
    recent = select(LoginAttempt.created_at).where(column == key, LoginAttempt.created_at > now - window)
    count = session.scalar(select(func.count()).select_from(recent.subquery()))
    if count < limit:
        return None
    # The window slides: once the (count - limit + 1) oldest failures leave it, the key is under the limit.
    leaving = session.scalar(recent.order_by(LoginAttempt.created_at).offset(count - limit).limit(1))
    return max(1, int((_aware(leaving) + window - now).total_seconds()) + 1)


def _check_login_limits(session: Session, settings: Settings, username: str, address: str) -> None:
    window = timedelta(seconds=settings.login_window_seconds)
    minutes = f"{settings.login_window_seconds / 60:g} minutes"
    for column, key, limit, who in (
        (LoginAttempt.username, username, settings.login_max_failures_per_user, f"for user '{username}'"),
        (LoginAttempt.address, address, settings.login_max_failures_per_address, f"from address {address}"),
    ):
        wait = _retry_after(session, column, key, limit, window)
        if wait is not None:
            raise TooManyRequests(
                f"too many failed logins {who} ({limit} in {minutes}): try again in {wait} s",
                retry_after=wait,
                code="login_rate_limited",
            )


def login(settings: Settings, username: str, password: str, address: str) -> tuple[User, ApiToken, str]:
    """Check a username and password and issue a login token: (user, token row, secret).

    Refused with 429 while the username or the address has too many recent failures (even with the right
    password), 401 otherwise. Unknown and inactive users cost one Argon2 verification like everyone, so the
    time to answer does not tell whether a name exists. The password is checked outside any transaction, so
    a burst of logins holds no database connection while it hashes."""
    username, address = username[:64], (address or "unknown")[:64]
    with session_scope(settings.database_url) as session:
        _check_login_limits(session, settings, username, address)
        user = session.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user is not None and user.is_active else None
    accepted = verify_password(password, stored)
    with session_scope(settings.database_url) as session:
        if not accepted:
            cutoff = utcnow() - timedelta(seconds=settings.login_window_seconds)
            session.execute(delete(LoginAttempt).where(LoginAttempt.created_at <= cutoff))
            session.add(LoginAttempt(username=username, address=address))
        else:
            session.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
            user = session.get(User, user.id)
            row, secret = _add_token(session, user, "login", settings.token_ttl_days)
        session.commit()
    if not accepted:
        raise Unauthorized("wrong username or password")
    return user, row, secret


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def bootstrap_admin(session: Session) -> tuple[str, str, str] | None:
    """On first start: create `admin` and return (username, password, token); None when users exist.

    The token lives the default login lifetime: scripts that need longer get a token from an admin."""
    if session.scalar(select(func.count(User.id))):
        return None
    user, password, secret = create_user_with_token(session, "admin", Role.admin, None, "bootstrap")
    return user.username, password, secret
