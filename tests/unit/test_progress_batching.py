"""The worker writes a job's progress and metrics in batches: a long run makes far fewer transactions than it
has steps, and not one metric is lost, whether the run ends, fails or is stopped."""

from __future__ import annotations

from sqlalchemy import event, func, select

from backend.db import get_engine, session_scope, utcnow
from backend.models import Job, JobStatus
from backend.models.jobs import JobEvent, JobMetric
from backend.services import registry
from worker.progress import DatabaseReporter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _job(settings, tiny_model_dir) -> int:
    with session_scope(settings.database_url) as session:
        model = registry.register_model(session, "tiny", tiny_model_dir, settings=settings)
        job = Job(
            name="j", method="sft", status=JobStatus.running, spec={}, base_model_id=model.id, datasets=[]
        )
        job.queued_at = utcnow()
        session.add(job)
        session.commit()
        return job.id


def _count_commits(settings) -> list[int]:
    commits = [0]
    event.listen(
        get_engine(settings.database_url), "commit", lambda _conn: commits.__setitem__(0, commits[0] + 1)
    )
    return commits


def test_many_steps_make_few_transactions_and_lose_no_metric(settings, tiny_model_dir):
    job_id = _job(settings, tiny_model_dir)
    clock = Clock()
    reporter = DatabaseReporter(settings, job_id, flush_every=2.0, clock=clock)
    commits = _count_commits(settings)
    steps = 1000
    for step in range(1, steps + 1):
        clock.now += 0.01  # 100 steps a second: one flush every 200 steps
        reporter.set_progress(step, steps)
        reporter.log_metrics(step, {"loss": 1.0 / step, "learning_rate": 1e-3, "nan": float("nan")})
        if step == 500:
            reporter.log_event("checkpoint saved at step 500")
    reporter.flush()  # what the training process does at the end, on a crash, a pause or a cancel
    assert commits[0] <= 10, f"{commits[0]} transactions for {steps} steps"
    with session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        assert (job.current_step, job.total_steps) == (steps, steps)
        losses = session.execute(
            select(JobMetric.step, JobMetric.value).where(
                JobMetric.job_id == job_id, JobMetric.name == "loss"
            )
        ).all()
        assert sorted(s for s, _ in losses) == list(range(1, steps + 1))
        assert session.scalar(select(func.count()).where(JobMetric.name == "nan")) == 0
        assert session.scalars(select(JobEvent.message).where(JobEvent.job_id == job_id)).all() == [
            "checkpoint saved at step 500"
        ]


def test_the_first_report_is_written_at_once(settings, tiny_model_dir):
    job_id = _job(settings, tiny_model_dir)
    reporter = DatabaseReporter(settings, job_id, flush_every=3600, clock=Clock())
    reporter.set_progress(0, 50)  # the UI learns the total before the first flush interval passes
    reporter.set_progress(1, 50)
    with session_scope(settings.database_url) as session:
        assert session.get(Job, job_id).total_steps == 50
        assert session.get(Job, job_id).current_step == 0
    reporter.flush()
    with session_scope(settings.database_url) as session:
        assert session.get(Job, job_id).current_step == 1
