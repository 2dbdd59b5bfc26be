"""Run comparison: several jobs side by side — their curves on shared axes, what differs in their configs, and
the evaluations that scored their models."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models.jobs import Job
from backend.models.users import User
from backend.services import access, jobs
from backend.services.evaluations import EVAL_METHOD, model_key

#: the most runs one comparison shows: more lines than this make a plot nobody can read
MAX_RUNS = 8


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def config_diff(configs: dict[int, dict]) -> list[dict]:
    """Every setting whose value is not the same in all runs: [{"setting", "values": {job id: value}}]."""
    flat = {job_id: _flatten(config) for job_id, config in configs.items()}
    settings = sorted({key for values in flat.values() for key in values})
    rows = []
    for setting in settings:
        values = {job_id: values.get(setting) for job_id, values in flat.items()}
        if len({repr(v) for v in values.values()}) > 1:
            rows.append({"setting": setting, "values": values})
    return rows


def _config(job: Job) -> dict:
    return {
        "method": job.method,
        "base_model_id": job.base_model_id,
        "parent_job_id": job.parent_job_id,
        "datasets": {str(i): d for i, d in enumerate(job.datasets)},
        "spec": job.spec,
    }


def _evaluations(session: Session, runs: list[Job], user: User | None) -> list[dict]:
    """For each run's output model, its headline figures in every finished evaluation that included it."""
    outputs = {jobs.output_model_id(job): job.id for job in runs if jobs.output_model_id(job)}
    found = []
    evaluations = session.scalars(
        access.visible_to(select(Job).where(Job.method == EVAL_METHOD, Job.result.is_not(None)), user, Job)
    )
    for evaluation in evaluations:
        summary = (evaluation.result or {}).get("summary") or {}
        for model_id, job_id in outputs.items():
            figures = summary.get("task", {}).get("models", {}).get(model_key(model_id))
            if figures is None:
                continue
            headline = summary["graders"][0]
            value = figures.get("graders", figures).get(headline) or figures.get("accuracy")
            found.append(
                {
                    "evaluation_id": evaluation.id,
                    "evaluation": evaluation.name,
                    "job_id": job_id,
                    "metric": headline,
                    "mean": value["mean"],
                    "low": value["low"],
                    "high": value["high"],
                }
            )
    return found


def compare_runs(session: Session, job_ids: list[int], user: User | None = None) -> dict:
    """Curves, config differences and evaluations of up to MAX_RUNS jobs (404 for any job not found or not
    visible to `user`; only evaluations `user` may see are listed)."""
    runs = [jobs.get_job(session, job_id, user) for job_id in dict.fromkeys(job_ids)]
    return {
        "jobs": runs,
        "metrics": {job.id: jobs.job_metrics(session, job.id) for job in runs},
        "config_diff": config_diff({job.id: _config(job) for job in runs}),
        "evaluations": _evaluations(session, runs, user),
    }
