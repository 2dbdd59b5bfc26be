"""The training process of one job: load its spec and data, train, write the outcome for the supervisor.

Run as `python -m worker.jobs.child --job-id N` by worker.jobs.supervisor. Exit code 0 with outcome.json means
succeeded or paused; anything else is a failure whose readable reason is in error.txt.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import traceback
from pathlib import Path

from backend import storage
from backend.config import get_settings
from backend.db import session_scope
from backend.models.jobs import Job
from backend.schemas.job_specs import OnlineRLSpec, parse_job_spec
from backend.services import registry
from backend.storage import ArtifactStore
from worker.device import detect_device, device_peak
from worker.jobs.datagen_job import run_datagen_job
from worker.jobs.dataset_files import checked_version_file
from worker.jobs.evaluation_job import run_evaluation_job
from worker.jobs.supervisor import ERROR_FILE, OUTCOME_FILE, die_with_parent
from worker.progress import DatabaseReporter
from worker.training.rows import load_rows, mix_rows
from worker.training.runner import TrainRequest, merge_adapter, run_training

#: the job's dataset files as Arrow, memory-mapped while it trains (kept for a resume, removed on success)
DATA_CACHE = "data_cache"


def _load_inputs(job_id: int, store: ArtifactStore, settings) -> tuple[TrainRequest, Path]:
    with session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        spec = parse_job_spec(job.method, job.spec)
        start = registry.get_model(session, job.base_model_id)
        # each file is checked against the sha256 stored when it was validated (archived data included)
        weighted_files = [
            (checked_version_file(session, store, r["version_id"]), r["weight"]) for r in job.datasets
        ]
        eval_file = (
            checked_version_file(session, store, job.eval_dataset_version_id)
            if job.eval_dataset_version_id
            else None
        )
        reward_models, classifiers = {}, {}
        for reward in spec.rewards if isinstance(spec, OnlineRLSpec) else []:
            if reward.kind == "model":
                reward_job = session.get(Job, reward.reward_model_job_id)
                reward_models[reward_job.id] = str(store.path(reward_job.output_path) / "final")
            if reward.kind == "classifier":
                classifier = registry.get_model(session, reward.classifier_model_id)
                classifiers[classifier.id] = str(registry.model_path(settings, classifier))
        output_dir = store.path(job.output_path)
        method, model_path = job.method, str(storage.resolve(settings, start.path))
    # the files are read as memory-mapped Arrow, converted once into the job's folder (outside the session)
    cache = output_dir / DATA_CACHE
    parts = [(load_rows(path, cache_dir=cache), weight) for path, weight in weighted_files]
    has_checkpoint = any((output_dir / "checkpoints").glob("checkpoint-*"))
    request = TrainRequest(
        method=method,
        spec=spec,
        model_path=model_path,
        train_rows=mix_rows(parts, seed=spec.training.seed),
        eval_rows=load_rows(eval_file, cache_dir=cache) if eval_file else None,
        output_dir=str(output_dir),
        resume_from_checkpoint="latest" if has_checkpoint else None,
        reward_model_paths=reward_models,
        classifier_paths=classifiers,
        # the worker measured (and cached) this at start; a child started without one measures it here
        peak_flops=device_peak(settings.home, detect_device(settings.worker_device)["device"]),
        reporter=DatabaseReporter(settings, job_id),
    )
    if has_checkpoint:
        request.reporter.log_event("Resuming from the last checkpoint")
    return request, output_dir


def _method(job_id: int, settings) -> str:
    with session_scope(settings.database_url) as session:
        return session.get(Job, job_id).method


def _readable(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if "out of memory" in str(exc).lower():
        return (
            "Out of GPU memory: lower batch_size or max_length, enable gradient_checkpointing, or use "
            f"LoRA/QLoRA. ({text})"
        )
    return text


def _exit_on_sigterm(*_) -> None:
    raise SystemExit(143)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--job-id", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    args = parser.parse_args(argv)
    die_with_parent(args.parent_pid)
    settings = get_settings()
    store = ArtifactStore(settings.artifacts_dir)
    output_dir = store.path(store.job_dir(args.job_id))
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # a cancel: unwind, so the metrics so far are written
    request = None
    try:
        if _method(args.job_id, settings) == "eval":
            outcome = {"status": "succeeded", "result": run_evaluation_job(args.job_id, settings, store)}
            (output_dir / OUTCOME_FILE).write_text(json.dumps(outcome))
            return 0
        if _method(args.job_id, settings) == "datagen":
            result = run_datagen_job(args.job_id, settings, store)
            outcome = {"status": "paused"} if result is None else {"status": "succeeded", "result": result}
            (output_dir / OUTCOME_FILE).write_text(json.dumps(outcome))
            return 0
        request, output_dir = _load_inputs(args.job_id, store, settings)
        result = run_training(request)
    except BaseException as exc:  # noqa: BLE001 - the supervisor needs every failure in words
        traceback.print_exc()
        (output_dir / ERROR_FILE).write_text(_readable(exc))
        return 1
    finally:
        if request is not None:
            request.reporter.flush()  # the last batch of metrics and progress, whatever the outcome
    if result.status != "completed":
        outcome = {"status": "paused"}
    else:
        shutil.rmtree(output_dir / DATA_CACHE, ignore_errors=True)
        outcome = {
            "status": "succeeded",
            "result": {
                "model_dir": str(result.final_dir),
                "is_adapter": result.is_adapter,
                "global_step": result.total_steps,
                "metrics": result.metrics,
            },
        }
        if request.spec.merge_adapter and result.is_adapter and request.spec.adapter.type != "prompt_tuning":
            request.reporter.log_event("Merging the adapter into its base model")
            outcome["result"]["merged_dir"] = str(merge_adapter(result.final_dir, output_dir / "merged"))
    (output_dir / OUTCOME_FILE).write_text(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
