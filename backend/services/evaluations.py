"""Evaluation use cases: create (validated fully before anything is stored), read the summary, page and filter
the per-row evidence, export it. An evaluation is a Job of method "eval", so the queue, workers, cancel and
resume treat it like any other job.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db import session_scope, utcnow
from backend.models.evaluation import EvaluationRow
from backend.models.jobs import Job, JobEvent, JobStatus
from backend.models.registry import BaseModel
from backend.models.users import User
from backend.queue import RUN_JOB_TASK, enqueue
from backend.schemas.evaluation import EvaluationCreate, GraderSpec
from backend.services import access, datasets, registry
from backend.services.errors import Invalid

EVAL_METHOD = "eval"
#: formats whose rows have a prompt; all but prompt_only also carry a reference answer
EVAL_FORMATS = ("chat", "instruction", "preference", "prompt_only")
REFERENCE_FREE = {"regex", "format", "length", "json_valid", "model", "classifier", "judge"}


def model_key(model_id: int) -> str:
    """How a model is named in results and rows: stable, and the same in the summary, rows and export."""
    return f"m{model_id}"


def is_reward_model(session: Session, model: BaseModel) -> bool:
    if (model.architecture or "").endswith("ForSequenceClassification"):
        return True
    job = session.get(Job, model.job_id) if model.job_id else None
    return job is not None and job.method == "reward"


def _check_models(session: Session, data: EvaluationCreate, user: User | None) -> list[BaseModel]:
    models = []
    scoring = data.spec.kind == "preference_accuracy"
    for i, model_id in enumerate(data.model_ids):
        model = registry.get_model(session, model_id, user, field=f"model_ids[{i}]")
        architecture = model.architecture or ""
        if scoring != is_reward_model(session, model):
            want = (
                "reward models (a reward job's output)" if scoring else "language models that generate text"
            )
            raise Invalid(
                f"model {model_id} ({model.name}) cannot be evaluated here: a {data.spec.kind} evaluation "
                f"takes {want}",
                details={"field": f"model_ids[{i}]", "value": model_id},
            )
        if not scoring and not architecture.endswith("ForCausalLM") and not model.is_adapter:
            raise Invalid(
                f"model {model_id} ({model.name}) is a {architecture or 'model'}, which does not generate "
                "text; evaluate causal language models (reward models are graders: kind 'model')",
                details={"field": f"model_ids[{i}]", "value": model_id},
            )
        models.append(model)
    return models


def _check_version(
    session: Session, user: User | None, field: str, version_id: int | None, needs_reference: bool
) -> None:
    if version_id is None:
        return
    version = datasets.get_version(session, version_id, user, field=field)
    if version.format not in EVAL_FORMATS:
        raise Invalid(
            f"dataset version {version_id} is '{version.format}' data: evaluations answer "
            f"{', '.join(EVAL_FORMATS)} rows",
            details={"field": field, "value": version_id},
        )
    if needs_reference and version.format == "prompt_only":
        raise Invalid(
            f"dataset version {version_id} has prompts without reference answers, but a chosen grader "
            "compares with a reference: pick graders such as regex, length or json_valid, or a set with "
            "answers",
            details={"field": field, "value": version_id},
        )


def classifier_labels(model: BaseModel) -> list[str]:
    """A classifier's label names in class order, from the config.json read at registration (id2label); a
    reward model, or an adapter whose head has no names, has one label: LABEL_0 (as transformers names it)."""
    names = (model.config or {}).get("id2label") or {}
    return [str(names.get(str(i), names.get(i, f"LABEL_{i}"))) for i in range(len(names) or 1)]


def _grader_model(session: Session, field: str, model_id: int, user: User | None) -> BaseModel:
    """A judge or classifier model `user` may see; one they may not is refused exactly as a missing one."""
    model = session.get(BaseModel, model_id)
    if model is None or not access.can_see(user, model):
        raise Invalid(
            f"{field}: model {model_id} is not registered", details={"field": field, "value": model_id}
        )
    return model


def check_classifier(
    session: Session, where: str, model_id: int, label: str | None, user: User | None
) -> None:
    """A classifier grader or reward (`where`: "spec.graders[0]", "spec.rewards[1]"): the model is a
    registered sequence classifier and the label one of its labels (the refusal lists them)."""
    field = f"{where}.classifier_model_id"
    model = _grader_model(session, field, model_id, user)
    if not is_reward_model(session, model):
        raise Invalid(
            f"model {model.id} ({model.name}) is a {model.architecture or 'model'}, not a sequence "
            "classifier: a classifier grader takes a classifier or reward model",
            details={"field": field, "value": model.id},
        )
    labels = classifier_labels(model)
    if label is None and len(labels) > 1 or label is not None and label not in labels:
        said = f"has no label '{label}'" if label is not None else "needs a label"
        raise Invalid(
            f"classifier model {model.id} ({model.name}) {said}: its labels are {', '.join(labels)}",
            details={"field": f"{where}.label", "value": label, "labels": labels},
        )


def _check_judge(session: Session, i: int, grader: GraderSpec, user: User | None) -> None:
    field = f"spec.graders[{i}].judge_model_id"
    model = _grader_model(session, field, grader.judge_model_id, user)
    causal = (model.architecture or "").endswith("ForCausalLM") or model.is_adapter
    if not causal or is_reward_model(session, model):
        raise Invalid(
            f"model {model.id} ({model.name}) is a {model.architecture or 'model'}, which does not write "
            "verdicts: a judge is a language model that generates text",
            details={"field": field, "value": model.id},
        )


def _needs_reference(grader: GraderSpec) -> bool:
    if grader.kind == "judge":  # the default rubric shows the reference when there is one
        return grader.rubric is not None and "{reference}" in grader.rubric
    return grader.kind not in REFERENCE_FREE


def _check_graders(session: Session, data: EvaluationCreate, user: User | None) -> bool:
    """Refuse graders this studio cannot run; returns whether any grader needs a reference answer."""
    for i, grader in enumerate(data.spec.graders):
        if grader.kind == "classifier":
            check_classifier(session, f"spec.graders[{i}]", grader.classifier_model_id, grader.label, user)
        elif grader.kind == "judge":
            _check_judge(session, i, grader, user)
        elif grader.kind == "model":
            job = session.get(Job, grader.reward_model_job_id)
            usable = job is not None and access.can_see(user, job)
            if not usable or job.method != "reward" or job.status != JobStatus.succeeded:
                raise Invalid(
                    f"reward model job {grader.reward_model_job_id} is not a succeeded reward-model job",
                    details={
                        "field": f"spec.graders[{i}].reward_model_job_id",
                        "value": grader.reward_model_job_id,
                    },
                )
    return any(_needs_reference(g) for g in data.spec.graders) or data.spec.perplexity


def _check_generation_sets(session: Session, data: EvaluationCreate, user: User | None) -> None:
    needs_reference = _check_graders(session, data, user)
    _check_version(session, user, "dataset_version_id", data.dataset_version_id, needs_reference)
    _check_version(session, user, "general_version_id", data.general_version_id, needs_reference)
    _check_version(session, user, "examples_version_id", data.examples_version_id, True)


def _check_preference_set(session: Session, data: EvaluationCreate, user: User | None) -> None:
    version = datasets.get_version(session, data.dataset_version_id, user, field="dataset_version_id")
    if version.format != "preference":
        raise Invalid(
            "a preference_accuracy evaluation scores preference rows (prompt, chosen, rejected); dataset "
            f"version {version.id} is '{version.format}'",
            details={"field": "dataset_version_id", "value": version.id},
        )
    if data.general_version_id or data.examples_version_id or data.spec.few_shot:
        raise Invalid(
            "a preference_accuracy evaluation takes no general set, examples or few-shot baselines",
            details={"field": "spec.kind", "value": data.spec.kind},
        )


def create_evaluation(session: Session, settings: Settings, data: EvaluationCreate, user: User | None) -> Job:
    """Validate, store as a queued job, commit, enqueue. Nothing is stored on refusal."""
    models = _check_models(session, data, user)
    if data.spec.kind == "preference_accuracy":
        _check_preference_set(session, data, user)
    else:
        _check_generation_sets(session, data, user)
    names = ", ".join(m.name for m in models)
    job = Job(
        name=data.name or f"eval-{models[0].name}"[:200],
        method=EVAL_METHOD,
        status=JobStatus.queued,
        spec=data.model_dump(mode="json", exclude={"name"}),
        base_model_id=models[0].id,
        datasets=[{"version_id": data.dataset_version_id, "weight": 1.0}],
        created_by=user.id if user else None,
        owner_id=user.id if user else None,
        queued_at=utcnow(),
    )
    session.add(job)
    session.flush()
    session.add(
        JobEvent(job_id=job.id, message=f"Evaluation queued: {names} on version {data.dataset_version_id}")
    )
    session.commit()
    enqueue(settings, RUN_JOB_TASK, job_id=job.id)
    return job


def get_evaluation(session: Session, job_id: int, user: User | None = None) -> Job:
    """An evaluation `user` may see (a job: its owner and visibility decide; PATCH /api/jobs/{id})."""
    job = session.get(Job, job_id)
    if job is None or job.method != EVAL_METHOD:
        job = None
    return access.check_visible(user, job, "evaluation", job_id)


def list_evaluations(
    session: Session, user: User | None = None, *, offset: int, limit: int
) -> tuple[list[Job], int]:
    query = access.visible_to(select(Job).where(Job.method == EVAL_METHOD), user, Job)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    return list(session.scalars(query.order_by(Job.id.desc()).offset(offset).limit(limit))), total


def _primary(job: Job) -> str:
    return ((job.result or {}).get("summary", {}).get("graders") or ["rougeL"])[0]


def list_rows(
    session: Session,
    job_id: int,
    user: User | None = None,
    *,
    set_name: str,
    lost_by: str | None,
    offset: int,
    limit: int,
) -> tuple[list[EvaluationRow], int]:
    """Rows of one set in dataset order; with `lost_by`, only those where that model scored below the baseline
    on the headline grader (the rows to read first when a tuned model disappoints)."""
    job = get_evaluation(session, job_id, user)
    query = select(EvaluationRow).where(EvaluationRow.job_id == job.id, EvaluationRow.set == set_name)
    query = query.order_by(EvaluationRow.row_index)
    if lost_by is None:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        return list(session.scalars(query.offset(offset).limit(limit))), total
    keys = [model_key(m) for m in job.spec["model_ids"]]
    if lost_by not in keys[1:]:
        raise Invalid(
            f"lost_by names a compared model: one of {', '.join(keys[1:]) or 'none (one model evaluated)'}",
            details={"field": "lost_by", "value": lost_by},
        )
    grader = _primary(job)

    def lost(row: EvaluationRow) -> bool:
        mine, base = row.outputs[lost_by]["scores"][grader], row.outputs[keys[0]]["scores"][grader]
        return mine is not None and base is not None and mine < base  # a missing score neither wins nor loses

    matching = [row for row in session.scalars(query) if lost(row)]
    return matching[offset : offset + limit], len(matching)


def export_rows(session: Session, job_id: int, fmt: str, user: User | None = None) -> Iterator[str]:
    """Every row of every set, as JSON lines or CSV (one column per model answer and per model × grader)."""
    job = get_evaluation(session, job_id, user)
    keys = [model_key(m) for m in job.spec["model_ids"]]
    graders = (job.result or {}).get("summary", {}).get("graders", [])
    rows = session.scalars(
        select(EvaluationRow)
        .where(EvaluationRow.job_id == job.id)
        .order_by(EvaluationRow.set.desc(), EvaluationRow.row_index)
    )
    if fmt == "jsonl":
        for row in rows:
            yield (
                json.dumps(
                    {
                        "set": row.set,
                        "row": row.row_index,
                        "messages": row.messages,
                        "reference": row.reference,
                        "outputs": row.outputs,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
        return
    header = ["set", "row", "prompt", "reference"]
    header += [f"{key}_answer" for key in keys] + [f"{key}_{g}" for key in keys for g in graders]
    yield _csv_line(header)
    for row in rows:
        prompt = next((m["content"] for m in reversed(row.messages) if m["role"] == "user"), "")
        values = [row.set, row.row_index, prompt, row.reference]
        values += [row.outputs.get(key, {}).get("text", "") for key in keys]
        values += [row.outputs.get(key, {}).get("scores", {}).get(g, "") for key in keys for g in graders]
        yield _csv_line(values)


def _csv_line(values: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


# Rows per transaction when a worker stores an evaluation's per-row evidence.
ROWS_PER_COMMIT = 500


def store_rows(settings: Settings, job_id: int, rows: list[dict]) -> None:
    """Replace the per-row evidence of evaluation `job_id` (a resumed run starts over), committing in
    batches so a large evaluation holds no long write lock."""
    with session_scope(settings.database_url) as session:
        session.execute(delete(EvaluationRow).where(EvaluationRow.job_id == job_id))
        session.commit()
    for start in range(0, len(rows), ROWS_PER_COMMIT):
        with session_scope(settings.database_url) as session:
            session.add_all(
                EvaluationRow(
                    job_id=job_id,
                    set=row["set"],
                    row_index=row["index"],
                    messages=row["messages"],
                    reference=row["reference"],
                    outputs=row["outputs"],
                )
                for row in rows[start : start + ROWS_PER_COMMIT]
            )
            session.commit()
