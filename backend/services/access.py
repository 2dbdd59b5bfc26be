"""Who may see and change which row: the one place services ask, so every refusal reads the same.

Rules (issue 7): admins see and change everything. Engineers see what they own and what is shared with the
studio, and change only what they own. A row without an owner (a legacy row, or one whose owner was deleted)
is changed by admins only and seen by engineers only when it is shared. Labelers see none of these rows:
their campaigns are reached through backend.services.labeling. `user=None` means the system itself (the
worker, the CLI): no filter.

A refusal is NotFound (404) for a row the caller may not see, exactly as for a missing one, so ids leak
nothing; and Forbidden (403) for a row they may see but not change.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, or_, true
from sqlalchemy.orm import Session

from backend.models.ownership import Visibility
from backend.models.users import Role, User
from backend.services.errors import Forbidden, NotFound

Row = TypeVar("Row")


def is_admin(user: User | None) -> bool:
    return user is None or user.role == Role.admin


def visible_clause(user: User | None, model: Any) -> ColumnElement[bool]:
    """A WHERE clause on `model` (owner_id, and visibility when it has one) keeping what `user` sees."""
    if is_admin(user):
        return true()
    if user.role != Role.engineer:
        return false()
    own = model.owner_id == user.id
    shared = getattr(model, "visibility", None)
    return own if shared is None else or_(own, shared == Visibility.shared)


def visible_to(stmt: Select, user: User | None, model: Any) -> Select:
    """`stmt` narrowed to the rows of `model` that `user` may see."""
    return stmt.where(visible_clause(user, model))


def can_see(user: User | None, row: Any) -> bool:
    if is_admin(user):
        return True
    if user.role != Role.engineer:
        return False
    return row.owner_id == user.id or getattr(row, "visibility", Visibility.private) == Visibility.shared


def can_change(user: User | None, row: Any) -> bool:
    return is_admin(user) or (user.role == Role.engineer and row.owner_id == user.id)


def not_found(what: str, row_id: int, field: str | None = None) -> NotFound:
    return NotFound(f"{what} {row_id} not found", details={"field": field or f"{what}_id", "value": row_id})


def check_visible(
    user: User | None, row: Row | None, what: str, row_id: int, field: str | None = None
) -> Row:
    """`row` if `user` may see it; else the same 404 a missing row gets."""
    if row is None or not can_see(user, row):
        raise not_found(what, row_id, field)
    return row


def check_changeable(user: User | None, row: Row, what: str, row_id: int, field: str | None = None) -> Row:
    """`row` if `user` may change it: 404 when they may not even see it, 403 when they only see it."""
    check_visible(user, row, what, row_id, field)
    if not can_change(user, row):
        raise Forbidden(
            f"{what} {row_id} is shared with you to read; only its owner or an admin may change it",
            details={"field": field or f"{what}_id", "value": row_id},
        )
    return row


def get_visible(
    session: Session, model: type[Row], row_id: int, user: User | None, *, what: str, field: str | None = None
) -> Row:
    """The row of `model` with this id, if `user` may see it (404 otherwise)."""
    return check_visible(user, session.get(model, row_id), what, row_id, field)


def get_changeable(
    session: Session, model: type[Row], row_id: int, user: User | None, *, what: str, field: str | None = None
) -> Row:
    """The row of `model` with this id, if `user` may change it (404 unseen, 403 seen but not theirs)."""
    return check_changeable(user, session.get(model, row_id), what, row_id, field)


def set_visibility(session: Session, row: Any, visibility: Visibility) -> None:
    """Share a row with the studio or make it private again; the caller has checked `can_change`."""
    row.visibility = visibility
    session.flush()
