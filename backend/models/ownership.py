"""Who may see a row: the owner, and the whole studio when the row is shared (see backend.services.access)."""

from __future__ import annotations

import enum

from sqlalchemy import Enum
from sqlalchemy.orm import MappedColumn, mapped_column


class Visibility(enum.StrEnum):
    """private: the owner and admins; shared: every engineer reads it, only the owner and admins change it."""

    private = "private"
    shared = "shared"


def visibility_column(default: Visibility = Visibility.private) -> MappedColumn:
    """The `visibility` column of every owned table (a VARCHAR: a new value needs no enum migration)."""
    return mapped_column(
        Enum(Visibility, native_enum=False, length=16), default=default, server_default=default.value
    )
