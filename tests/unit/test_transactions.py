"""One owner per transaction: services commit, `session_scope` never does and refuses leftover writes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from backend import migrate
from backend.config import Settings
from backend.db import UncommittedWork, session_scope
from backend.models.users import Role, User
from backend.services import users


@pytest.fixture
def settings(tmp_path) -> Settings:
    settings = Settings(home=tmp_path)
    settings.ensure_dirs()
    migrate.upgrade(settings.database_url)
    return settings


def _count_users(settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        return session.scalar(select(func.count(User.id)))


def test_an_uncommitted_add_is_refused_and_not_stored(settings):
    with pytest.raises(UncommittedWork, match="new="), session_scope(settings.database_url) as session:
        session.add(User(username="ghost", role=Role.engineer, password_hash="x"))
    assert _count_users(settings) == 0


def test_a_flushed_but_uncommitted_write_is_refused_and_rolled_back(settings):
    with pytest.raises(UncommittedWork), session_scope(settings.database_url) as session:
        session.add(User(username="ghost", role=Role.engineer, password_hash="x"))
        session.flush()  # nothing pending in the session any more, but the row is not committed
    assert _count_users(settings) == 0


def test_a_bulk_update_left_uncommitted_is_refused(settings):
    with session_scope(settings.database_url) as session:
        users.create_user(session, "eng", Role.engineer, "a long enough password 1")
    with pytest.raises(UncommittedWork), session_scope(settings.database_url) as session:
        session.execute(update(User).values(is_active=False))
    with session_scope(settings.database_url) as session:
        assert session.scalar(select(User.is_active)) is True


def test_a_service_commits_its_own_work_and_reads_leave_nothing_behind(settings):
    with session_scope(settings.database_url) as session:
        user, _ = users.create_user(session, "eng", Role.engineer, "a long enough password 1")
        users.issue_token(session, user, "script")
        session.scalar(select(User).where(User.username == "eng"))  # a read after the commit is fine
    assert _count_users(settings) == 1


def test_an_error_rolls_back_and_is_not_masked(settings):
    with pytest.raises(KeyError), session_scope(settings.database_url) as session:
        session.add(User(username="ghost", role=Role.engineer, password_hash="x"))
        raise KeyError("boom")
    assert _count_users(settings) == 0
