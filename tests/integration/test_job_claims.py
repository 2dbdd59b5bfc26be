"""The job row is the source of truth: claims are atomic and stale jobs are recovered (real PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import update

from backend import migrate
from backend.config import Settings
from backend.db import session_scope, utcnow
from backend.models import Job, JobStatus
from backend.services import job_runtime, registry
from tests.stack import create_postgres_database, drop_postgres_database


@pytest.fixture
def pg_settings(tmp_path, tiny_model_path):
    url = create_postgres_database()
    migrate.upgrade(url)
    settings = Settings(
        home=tmp_path, database_url=url, broker_url="filesystem://", heartbeat_timeout=5, max_attempts=2
    )
    settings.ensure_dirs()
    yield settings
    drop_postgres_database(url)


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory):
    from worker.training.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "m")


def _queued_job(settings, tiny_model_path) -> int:
    with session_scope(settings.database_url) as session:
        model = registry.register_model(session, "tiny", tiny_model_path, settings=settings)
        job = Job(
            name="j", method="sft", status=JobStatus.queued, spec={}, base_model_id=model.id, datasets=[]
        )
        session.add(job)
        session.commit()
        return job.id


def test_only_one_of_many_workers_claims_a_job(pg_settings, tiny_model_path):
    job_id = _queued_job(pg_settings, tiny_model_path)

    def claim(n):
        with session_scope(pg_settings.database_url) as session:
            return job_runtime.claim_job(session, job_id, f"worker-{n}") is not None

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(claim, range(16)))
    assert results.count(True) == 1


def test_stale_running_job_is_requeued_then_failed_after_max_attempts(pg_settings, tiny_model_path):
    job_id = _queued_job(pg_settings, tiny_model_path)
    for attempt in (1, 2):
        with session_scope(pg_settings.database_url) as session:
            assert job_runtime.claim_job(session, job_id, f"w{attempt}") is not None
            session.execute(
                update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow() - timedelta(seconds=60))
            )
            session.commit()
        with session_scope(pg_settings.database_url) as session:
            requeued = job_runtime.recover_stale_jobs(session, pg_settings)
        with session_scope(pg_settings.database_url) as session:
            job = session.get(Job, job_id)
            if attempt == 1:
                assert requeued == [job_id] and job.status == JobStatus.queued
            else:
                assert requeued == [] and job.status == JobStatus.failed
                assert "stopped responding" in job.error


def test_a_finished_job_cannot_be_overwritten_by_its_old_worker(pg_settings, tiny_model_path):
    job_id = _queued_job(pg_settings, tiny_model_path)
    with session_scope(pg_settings.database_url) as session:
        job_runtime.claim_job(session, job_id, "old")
        session.execute(update(Job).where(Job.id == job_id).values(status=JobStatus.cancelled))
        session.commit()
    with session_scope(pg_settings.database_url) as session:
        assert not job_runtime.finish_job(session, job_id, "old", JobStatus.succeeded, result={})
        assert session.get(Job, job_id).status == JobStatus.cancelled
