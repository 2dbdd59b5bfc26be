"""Users, login and API tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, SecretStr

from backend.models.users import Role
from backend.schemas.common import ReadModel


# Passwords are SecretStr: their repr is masked, so a log line or a traceback never shows them.
class LoginRequest(BaseModel):
    username: str = Field(..., min_length=1, max_length=64)
    password: SecretStr = Field(..., min_length=1, max_length=256)


class TokenRead(BaseModel):
    """A new token: the one time its secret is shown."""

    token: str = Field(..., description="Send as 'Authorization: Bearer <token>'. Shown once; stored hashed.")
    id: int = Field(..., description="The token's id: list it with GET /api/auth/tokens, revoke with DELETE.")
    username: str
    role: Role
    expires_at: datetime | None = Field(None, description="When it stops working; null: never.")


class TokenInfo(ReadModel):
    """A token as listed: everything but its secret."""

    id: int
    user_id: int
    name: str
    prefix: str = Field(..., description="The first characters of the secret, to tell tokens apart.")
    created_at: datetime
    last_used_at: datetime | None = Field(None, description="Updated at most once a minute.")
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool


class UserCreate(BaseModel):
    username: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Role = Role.engineer
    password: SecretStr | None = Field(
        None,
        max_length=256,
        description="Default: generated. At least 10 characters of at least two kinds (lower case, upper "
        "case, digits, others), not the username.",
    )


class UserRead(ReadModel):
    id: int
    username: str
    role: Role
    is_active: bool
    created_at: datetime


class UserCreated(UserRead):
    password: str
    token: str


class TokenCreate(BaseModel):
    name: str = Field("api", min_length=1, max_length=128)
    expires_in_days: float | None = Field(
        None,
        gt=0,
        le=36500,
        description="Lifetime in days. Default: AFINA_TOKEN_TTL_DAYS (30). Beyond AFINA_TOKEN_MAX_TTL_DAYS "
        "(365) only admins may ask.",
    )
    never_expires: bool = Field(False, description="A token without expiry: admins only.")
