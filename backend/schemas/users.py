"""Users, login and API tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from backend.models.users import Role
from backend.schemas.common import ReadModel


class LoginRequest(BaseModel):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=256)


class TokenRead(BaseModel):
    token: str = Field(..., description="Send as 'Authorization: Bearer <token>'. Shown once; stored hashed.")
    username: str
    role: Role


class UserCreate(BaseModel):
    username: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Role = Role.engineer
    password: str | None = Field(None, min_length=8, max_length=256, description="Default: generated.")


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
