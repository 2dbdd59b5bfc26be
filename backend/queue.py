"""Send work to Celery workers by task name, so the API process never imports the worker code (or torch)."""

from __future__ import annotations

from celery import Celery

from backend.config import Settings

TRAIN_QUEUE = "train"
INFER_QUEUE = "infer"
RUN_JOB_TASK = "afina.run_job"
RUN_INFERENCE_TASK = "afina.run_inference"


def make_celery(settings: Settings) -> Celery:
    """The one place the reliability policy is named."""
    app = Celery("afina", broker=settings.broker_url)
    transport_options: dict = {"visibility_timeout": settings.visibility_timeout}
    if settings.broker_url.startswith("filesystem"):
        # Embedded default: kombu's filesystem transport needs no server process, keeps queued messages across
        # restarts (they are files under AFINA_HOME), and is safe between processes on one host (fcntl locks).
        # The database, not the broker, is the source of truth, so a lost message only delays a job: workers
        # re-enqueue queued jobs at start-up and recover running jobs whose heartbeat stopped.
        folder = settings.broker_dir / "messages"
        folder.mkdir(parents=True, exist_ok=True)
        control = settings.broker_dir / "control"
        control.mkdir(parents=True, exist_ok=True)
        transport_options = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(control),
        }
    app.conf.update(
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_acks_late=True,  # a message is acknowledged only after its job function returns...
        task_reject_on_worker_lost=True,  # ...and goes back to the queue if the worker process dies
        worker_prefetch_multiplier=1,  # one job per GPU: never reserve a second message while one runs
        task_ignore_result=True,  # outcomes live in the database
        task_routes={RUN_JOB_TASK: {"queue": TRAIN_QUEUE}, RUN_INFERENCE_TASK: {"queue": INFER_QUEUE}},
        worker_hijack_root_logger=False,
    )
    return app


_clients: dict[tuple[str, str], Celery] = {}


def enqueue(settings: Settings, task_name: str, **kwargs) -> None:
    """Publish a task; call it after the transaction that created the row has committed."""
    key = (settings.broker_url, str(settings.broker_dir))  # one producer per broker, reused across requests
    if key not in _clients:
        _clients[key] = make_celery(settings)
    _clients[key].send_task(task_name, kwargs=kwargs)
