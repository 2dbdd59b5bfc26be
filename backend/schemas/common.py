"""Schema pieces shared by every resource."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backend.models.ownership import Visibility


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @field_validator("*", mode="after")
    @classmethod
    def _aware(cls, value):
        """Times are answered with their zone (RFC 3339); SQLite hands stored UTC times back without one."""
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


VISIBILITY_DOC = (
    "private: its owner and admins only; shared: every engineer may read and use it, only its owner and "
    "admins may change it."
)


class OwnedRead(ReadModel):
    """Who owns a row and who else may see it."""

    owner_id: int | None = Field(None, description="The owner's user id (None: nobody's; admins manage it).")
    visibility: Visibility = Field(Visibility.private, description=VISIBILITY_DOC)


class VisibilityUpdate(BaseModel):
    """PATCH body: share a row with the studio or make it private again (its owner or an admin)."""

    model_config = ConfigDict(extra="forbid")

    visibility: Visibility = Field(description=VISIBILITY_DOC)


class ErrorDetail(BaseModel):
    """Every 4xx answer has this shape (declared for all routes in create_app): a code a script can branch on,
    a message a person can act on, and details naming where (field, row, value)."""

    code: str
    message: str
    details: dict | list | None = None
