"""The evaluation side of a job's child process: gather the models and rows a stored evaluation names, run it
(worker.evaluation, pure ML), and store the per-row evidence. The summary becomes the job's result."""

from __future__ import annotations

from backend.config import Settings
from backend.db import session_scope
from backend.models.jobs import Job
from backend.schemas.evaluation import EvaluationCreate
from backend.services import datasets, evaluations, registry
from backend.storage import ArtifactStore
from worker.device import detect_device
from worker.evaluation.judge import JudgeModel
from worker.evaluation.rows import EvalItem, item_from_row
from worker.evaluation.runner import EvalRequest, ModelRef, run_evaluation
from worker.jobs.dataset_files import checked_version_file
from worker.progress import DatabaseReporter

#: rows stored per transaction: large evaluations write in chunks, not one huge commit


def _rows(session, store: ArtifactStore, version_id: int | None, limit: int) -> list[dict]:
    if version_id is None or limit <= 0:
        return []
    checked_version_file(session, store, version_id)  # the rows are the ones validated at upload
    return datasets.read_rows(store, datasets.get_version(session, version_id), 0, limit)


def _items(session, store: ArtifactStore, version_id: int | None, limit: int) -> list[EvalItem]:
    return [item_from_row(i, row) for i, row in enumerate(_rows(session, store, version_id, limit))]


def _model_ref(session, settings: Settings, model_id: int) -> ModelRef:
    model = registry.get_model(session, model_id)
    key, path = evaluations.model_key(model_id), str(registry.model_path(settings, model))
    if model.is_adapter:
        base = registry.model_path(settings, registry.root_model(session, model))
        return ModelRef(key, model.name, path, base_path=str(base))
    return ModelRef(key, model.name, path)


def _reward_models(session, store: ArtifactStore, data: EvaluationCreate) -> dict[int, str]:
    paths = {}
    for grader in data.spec.graders:
        if grader.kind == "model":
            job = session.get(Job, grader.reward_model_job_id)
            paths[job.id] = str(store.path(job.output_path) / "final")
    return paths


def _grader_models(session, settings: Settings, data: EvaluationCreate) -> dict[int, JudgeModel]:
    """The folders of the registry models graders run (classifiers and judges); adapters with their base."""
    out = {}
    for grader in data.spec.graders:
        model_id = grader.classifier_model_id if grader.kind == "classifier" else grader.judge_model_id
        if grader.kind in ("classifier", "judge") and model_id not in out:
            ref = _model_ref(session, settings, model_id)
            out[model_id] = JudgeModel(ref.path, ref.base_path)
    return out


def run_evaluation_job(job_id: int, settings: Settings, store: ArtifactStore) -> dict:
    """Run the evaluation stored on job `job_id`; returns the job result ({"summary": ...})."""
    reporter = DatabaseReporter(settings, job_id)
    with session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        data = EvaluationCreate.model_validate(job.spec)
        spec = data.spec
        request = EvalRequest(
            models=[_model_ref(session, settings, m) for m in data.model_ids],
            spec=spec,
            items=_items(session, store, data.dataset_version_id, spec.max_rows),
            general_items=_items(session, store, data.general_version_id, spec.max_rows),
            examples=_items(session, store, data.examples_version_id, max(spec.few_shot, default=0)),
            device=detect_device(settings.worker_device)["device"],
            reward_model_paths=_reward_models(session, store, data),
            grader_models=_grader_models(session, settings, data),
            preference_rows=_rows(session, store, data.dataset_version_id, spec.max_rows)
            if spec.kind == "preference_accuracy"
            else [],
            progress=reporter.set_progress,
        )
    reporter.log_event(
        f"Evaluating {len(request.models)} model(s) on {len(request.items)} rows"
        + (f" and {len(request.general_items)} general rows" if request.general_items else "")
    )
    result = run_evaluation(request)
    evaluations.store_rows(settings, job_id, result["rows"])
    reporter.log_event(f"Stored {len(result['rows'])} graded rows")
    return {"summary": result["summary"]}
