"""Database engine, session factory and the declarative Base shared by every ORM model."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names, so Alembic migrations are identical on SQLite and Postgres.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Table options of every table with an integer id. Without AUTOINCREMENT, SQLite hands the id of the newest
# deleted row to the next insert, so a job's recorded dataset version id could later name different data;
# PostgreSQL identities never reuse ids. Use as `__table_args__ = NEVER_REUSE_IDS` or as the last element
# of a tuple of table args (tests/unit/test_data_integrity.py checks every such table has it).
NEVER_REUSE_IDS: dict = {"sqlite_autoincrement": True}


def as_utc(value: datetime) -> datetime:
    """The one rule for comparing times: a naive datetime is UTC (what SQLite and old rows hold)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware, on SQLite (which keeps no offset and
    returns naive values) as on PostgreSQL (timestamptz). Every `datetime` column of the models uses it."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else as_utc(value)

    def process_result_value(self, value, dialect):
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 (SQLAlchemy's own API)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the API read while a worker writes; busy_timeout makes concurrent writers wait, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@functools.lru_cache
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@functools.lru_cache
def get_sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


class UncommittedWork(RuntimeError):
    """A session closed with writes nobody committed: a service forgot its commit (a bug, not user input)."""


def _note_flush(session: Session, _context) -> None:
    session.info["uncommitted"] = True


def _forget_flush(session: Session) -> None:
    session.info.pop("uncommitted", None)


def has_uncommitted_work(session: Session) -> bool:
    """Pending objects, or rows flushed since the last commit or rollback."""
    modified = any(session.is_modified(obj) for obj in session.dirty)
    return bool(session.new or modified or session.deleted or session.info.get("uncommitted"))


def _note_dml(state) -> None:
    # Bulk UPDATE/DELETE/INSERT through session.execute writes without flushing any object.
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["uncommitted"] = True


event.listen(Session, "after_flush", _note_flush)
event.listen(Session, "do_orm_execute", _note_dml)
event.listen(Session, "after_commit", _forget_flush)
event.listen(Session, "after_soft_rollback", lambda session, _tx: _forget_flush(session))


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session for one unit of work. One owner per transaction: the service that writes commits (so a
    write and what it queues happen in a known order); this scope never commits. It rolls back on error,
    and raises UncommittedWork when a caller leaves writes behind instead of losing them silently."""
    session = get_sessionmaker(url)()
    try:
        yield session
        if has_uncommitted_work(session):
            raise UncommittedWork(
                f"session closed with uncommitted changes: new={list(session.new)!r} "
                f"dirty={list(session.dirty)!r} deleted={list(session.deleted)!r}"
            )
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
