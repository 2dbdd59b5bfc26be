"""Schema pieces shared by every resource."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, field_validator


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @field_validator("*", mode="after")
    @classmethod
    def _aware(cls, value):
        """Times are answered with their zone (RFC 3339); SQLite hands stored UTC times back without one."""
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class ErrorDetail(BaseModel):
    """Every 4xx answer has this shape (declared for all routes in create_app): a code a script can branch on,
    a message a person can act on, and details naming where (field, row, value)."""

    code: str
    message: str
    details: dict | list | None = None
