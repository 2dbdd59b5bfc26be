"""Run a claimed training job in a child process and supervise it: heartbeat, cancel, pause, crash, outcome.

The child does the ML (worker.jobs.child); this process never loads a model, so a crash or out-of-memory kill
in the child fails the job with a readable message instead of killing the worker, and the GPU memory is freed
with the child when the job ends.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from backend import storage
from backend.config import Settings
from backend.db import session_scope
from backend.models.jobs import Checkpoint, Job, JobStatus
from backend.models.registry import ModelSource
from backend.services import job_runtime, registry
from backend.storage import ArtifactStore

log = logging.getLogger(__name__)
OUTCOME_FILE = "outcome.json"
ERROR_FILE = "error.txt"


def die_with_parent(parent_pid: int) -> None:
    """Called first thing in the child: SIGKILL it if this worker dies (Linux), so no orphan keeps training a
    job nobody watches. Set in the child rather than with preexec_fn, which is unsafe with threads."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except OSError:
        return
    if os.getppid() != parent_pid:  # the worker died before prctl took effect
        os._exit(1)


def _signal_text(returncode: int) -> str:
    if returncode == -signal.SIGKILL:
        return (
            "the training process was killed (SIGKILL), most likely by the out-of-memory killer: lower "
            "batch_size or max_length, enable gradient_checkpointing, or use LoRA"
        )
    if returncode < 0:
        return f"the training process died from signal {signal.Signals(-returncode).name}"
    return f"the training process exited with code {returncode}"


def _record_new_checkpoints(session, job_id: int, job_dir: Path, store: ArtifactStore) -> None:
    known = set(session.scalars(select(Checkpoint.step).where(Checkpoint.job_id == job_id)))
    for folder in sorted((job_dir / "checkpoints").glob("checkpoint-*")):
        state = folder / "trainer_state.json"
        try:
            step = int(folder.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if (
            step in known or not state.is_file()
        ):  # trainer_state.json is written last: the checkpoint is whole
            continue
        history = json.loads(state.read_text()).get("log_history", [])
        metrics = {
            k: v
            for entry in history
            if entry.get("step") == step
            for k, v in entry.items()
            if isinstance(v, int | float)
        }
        relative = str(folder.relative_to(store.root))
        job_runtime.add_checkpoint(session, job_id, step, relative, metrics)


def _stop(proc: subprocess.Popen, grace: float) -> None:
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def execute_training_job(woken_by: int | None, *, settings: Settings, worker_id: str) -> None:
    """Run the oldest queued job. `woken_by` is the job whose message woke this worker: a hint for the logs,
    since another, older job may be the one claimed (FIFO is decided by the database, not the broker)."""
    store = ArtifactStore(settings.artifacts_dir)
    with session_scope(settings.database_url) as session:
        job = job_runtime.claim_next_job(session, worker_id)
        if job is None:
            log.info("woken for job %s but no job is queued: nothing to do", woken_by)
            return
        job_id, attempt = job.id, job.attempt
        relative = store.job_dir(job_id)
        job_runtime.set_output_path(session, job_id, relative)
    job_dir = store.path(relative)
    job_dir.mkdir(parents=True, exist_ok=True)
    for stale in (OUTCOME_FILE, ERROR_FILE):
        (job_dir / stale).unlink(missing_ok=True)

    with (job_dir / f"attempt-{attempt}.log").open("ab") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "worker.jobs.child",
                "--job-id",
                str(job_id),
                "--parent-pid",
                str(os.getpid()),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        cancelled = pause_sent = False
        last_beat = 0.0
        while proc.poll() is None:
            time.sleep(0.25)
            if time.monotonic() - last_beat < settings.heartbeat_interval:
                continue
            last_beat = time.monotonic()
            try:
                with session_scope(settings.database_url) as session:
                    cancel, pause = job_runtime.heartbeat(session, job_id, worker_id)
                    _record_new_checkpoints(session, job_id, job_dir, store)
            except LookupError:
                log.warning("job %s was taken from this worker; stopping its process", job_id)
                _stop(proc, settings.cancel_grace)
                return
            if cancel:
                cancelled = True
                _stop(proc, settings.cancel_grace)
            elif pause and not pause_sent:
                proc.send_signal(signal.SIGUSR1)  # the child saves a checkpoint and exits cleanly
                pause_sent = True

    with session_scope(settings.database_url) as session:
        _record_new_checkpoints(session, job_id, job_dir, store)
        _finish(session, settings, job_id, worker_id, proc.returncode, cancelled, job_dir)


def _finish(
    session, settings: Settings, job_id: int, worker_id: str, returncode: int, cancelled: bool, job_dir: Path
) -> None:
    if cancelled:
        job_runtime.finish_job(session, job_id, worker_id, JobStatus.cancelled)
        return
    outcome_file = job_dir / OUTCOME_FILE
    if returncode == 0 and outcome_file.is_file():
        outcome = json.loads(outcome_file.read_text())
        if outcome["status"] == "paused":
            job_runtime.finish_job(session, job_id, worker_id, JobStatus.paused)
            return
        result = outcome["result"]
        if "model_dir" in result:  # training made a model; an evaluation made numbers
            result["output_model_id"] = _register_output(session, settings, job_id, result)
        if result.get("merged_dir"):
            result["merged_model_id"] = _register_merged(session, settings, job_id, result["merged_dir"])
        for key in (
            "model_dir",
            "merged_dir",
        ):  # the job row keeps stored (relative) paths, like the registry
            if result.get(key):
                result[key] = storage.to_stored(settings, Path(result[key]))
        job_runtime.finish_job(session, job_id, worker_id, JobStatus.succeeded, result=result)
        return
    error_file = job_dir / ERROR_FILE
    error = error_file.read_text().strip() if error_file.is_file() else _signal_text(returncode)
    job_runtime.finish_job(session, job_id, worker_id, JobStatus.failed, error=error)


def _register_merged(session, settings: Settings, job_id: int, merged_dir: str) -> int:
    job = session.get(Job, job_id)
    start = registry.root_model(session, registry.get_model(session, job.base_model_id))
    return registry.add_model(
        session,
        registry.job_output_name(job.name, job_id, merged=True),
        Path(merged_dir),
        settings=settings,
        source=ModelSource.job,
        parent_model_id=start.id,
        job_id=job_id,
        owner_id=job.owner_id,
        visibility=job.visibility,
    ).id


def _register_output(session, settings: Settings, job_id: int, result: dict) -> int | None:
    """Register the trained adapter or model so it can be compared, generated with, or trained further."""
    job = session.get(Job, job_id)
    start = registry.get_model(session, job.base_model_id)
    is_adapter = bool(result.get("is_adapter"))
    model = registry.add_model(
        session,
        registry.job_output_name(job.name, job_id),
        Path(result["model_dir"]),
        settings=settings,
        source=ModelSource.job,
        parent_model_id=registry.root_model(session, start).id if is_adapter else start.id,
        job_id=job_id,
        is_adapter=is_adapter,
        owner_id=job.owner_id,
        visibility=job.visibility,
    )
    return model.id
