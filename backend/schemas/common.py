"""Schema pieces shared by every resource."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorDetail(BaseModel):
    """Every 4xx answer has this shape (declared for all routes in create_app): a code a script can branch on,
    a message a person can act on, and details naming where (field, row, value)."""

    code: str
    message: str
    details: dict | list | None = None
