"""The job row decides, on SQLite and on PostgreSQL: timestamps read back timezone-aware, stale jobs are
recovered, a free worker claims the oldest queued job whatever message woke it, and a job whose worker is gone
can be cancelled or resumed at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from backend import migrate
from backend.config import Settings
from backend.db import session_scope, utcnow
from backend.models import Job, JobStatus
from backend.models.jobs import Worker
from backend.services import job_runtime, jobs, registry
from tests.stack import create_postgres_database, drop_postgres_database


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory):
    from worker.training.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "m")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path, tiny_model_path):
    """(settings, base model id) on a fresh database of each kind."""
    url = create_postgres_database() if request.param == "postgresql" else None
    settings = Settings(home=tmp_path, database_url=url, broker_url=None, heartbeat_timeout=5, max_attempts=2)
    settings.ensure_dirs()
    migrate.upgrade(settings.database_url)
    with session_scope(settings.database_url) as session:
        model_id = registry.register_model(session, "tiny", tiny_model_path, settings=settings).id
    yield settings, model_id
    if url:
        drop_postgres_database(url)


def _queued(settings, model_id: int, queued_at: datetime) -> int:
    with session_scope(settings.database_url) as session:
        job = Job(
            name="j",
            method="sft",
            status=JobStatus.queued,
            spec={},
            base_model_id=model_id,
            datasets=[],
            queued_at=queued_at,
        )
        session.add(job)
        session.commit()
        return job.id


def _make_stale(settings, job_id: int) -> None:
    with session_scope(settings.database_url) as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow() - timedelta(seconds=60))
        )
        session.commit()


def test_times_are_stored_in_utc_and_read_back_aware(db):
    settings, model_id = db
    in_paris = datetime(2026, 11, 23, 13, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    job_id = _queued(settings, model_id, in_paris)
    with session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        assert job.queued_at == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
        assert job.queued_at.utcoffset() == timedelta(0)
        assert job.created_at.tzinfo is not None


def test_stale_running_job_is_requeued_then_failed(db):
    settings, model_id = db
    job_id = _queued(settings, model_id, utcnow())
    for attempt in (1, 2):
        with session_scope(settings.database_url) as session:
            assert job_runtime.claim_next_job(session, f"w{attempt}") is not None
        _make_stale(settings, job_id)
        with session_scope(settings.database_url) as session:
            requeued = job_runtime.recover_stale_jobs(session, settings)
        with session_scope(settings.database_url) as session:
            job = session.get(Job, job_id)
            if attempt == 1:
                assert requeued == [job_id] and job.status == JobStatus.queued
            else:
                assert requeued == [] and job.status == JobStatus.failed
                assert "stopped responding" in job.error


def test_a_free_worker_claims_the_oldest_queued_job(db):
    settings, model_id = db
    now = utcnow()
    # created newest first, so neither id order nor insertion order gives the right answer
    newest = _queued(settings, model_id, now)
    middle = _queued(settings, model_id, now - timedelta(minutes=2))
    oldest = _queued(settings, model_id, now - timedelta(minutes=4))
    with session_scope(settings.database_url) as session:
        assert jobs.queue_positions(session) == {oldest: 1, middle: 2, newest: 3}
    claimed = []
    for n in range(3):
        with session_scope(settings.database_url) as session:
            claimed.append(job_runtime.claim_next_job(session, f"w{n}").id)
    assert claimed == [oldest, middle, newest]
    with session_scope(settings.database_url) as session:
        assert job_runtime.claim_next_job(session, "w9") is None
        assert jobs.queue_positions(session) == {}


def test_concurrent_workers_claim_distinct_jobs(db):
    settings, model_id = db
    ids = {_queued(settings, model_id, utcnow() - timedelta(seconds=s)) for s in range(4)}

    def claim(n):
        with session_scope(settings.database_url) as session:
            job = job_runtime.claim_next_job(session, f"worker-{n}")
            return job.id if job else None

    with ThreadPoolExecutor(6) as pool:
        results = [r for r in pool.map(claim, range(6)) if r is not None]
    assert sorted(results) == sorted(ids)


def _running_on_dead_worker(settings, model_id: int) -> int:
    job_id = _queued(settings, model_id, utcnow())
    with session_scope(settings.database_url) as session:
        job_runtime.register_worker(session, "gone:1:train", "train", {"device": "cpu"})
        assert job_runtime.claim_next_job(session, "gone:1:train").id == job_id
    return job_id


def test_cancel_waits_for_a_live_worker_but_not_for_a_dead_one(db):
    settings, model_id = db
    job_id = _running_on_dead_worker(settings, model_id)
    with session_scope(settings.database_url) as session:
        assert jobs.cancel_job(session, settings, job_id).status == JobStatus.running  # its worker stops it
    _make_stale(settings, job_id)
    with session_scope(settings.database_url) as session:
        job_runtime.touch_worker(session, "gone:1:train")  # the row is fresh, but the job's heartbeat stopped
        assert jobs.cancel_job(session, settings, job_id).status == JobStatus.cancelled
    with session_scope(settings.database_url) as session:
        assert session.get(Job, job_id).finished_at is not None
        assert not job_runtime.finish_job(session, job_id, "gone:1:train", JobStatus.succeeded, result={})


def test_resume_requeues_a_job_whose_worker_is_gone(db):
    settings, model_id = db
    job_id = _running_on_dead_worker(settings, model_id)
    with session_scope(settings.database_url) as session:
        session.execute(
            update(Worker).values(last_seen=utcnow() - timedelta(seconds=60))
        )  # the worker stopped touching its row: it is dead, even if the job's heartbeat is recent
        session.commit()
    with session_scope(settings.database_url) as session:
        job = jobs.resume_job(session, settings, job_id)
        assert job.status == JobStatus.queued and job.worker_id is None
        assert jobs.queue_positions(session) == {job_id: 1}
