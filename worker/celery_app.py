"""The Celery application of the workers: the shared broker policy plus start-up and shutdown hooks."""

from __future__ import annotations

import logging
import os
import socket
import threading

from celery.signals import worker_ready, worker_shutdown

from backend.config import get_settings
from backend.db import session_scope
from backend.queue import make_celery
from backend.services import job_runtime
from worker.device import detect_device, device_peak

log = logging.getLogger(__name__)
settings = get_settings()
app = make_celery(settings)
app.conf.include = ["worker.tasks"]
_stop = threading.Event()


def worker_id(queues: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{queues}"


def _housekeeping(wid: str) -> None:
    """Keep this worker's row fresh; recover jobs whose worker died (every worker does it, atomically)."""
    period = max(1.0, min(settings.heartbeat_interval, settings.heartbeat_timeout / 4))
    while not _stop.wait(period):
        try:
            with session_scope(settings.database_url) as session:
                job_runtime.touch_worker(session, wid)
                job_runtime.recover_stale_jobs(session, settings)
        except Exception:  # keep the thread alive through a database blip
            log.exception("worker housekeeping failed")


@worker_ready.connect
def _on_ready(sender, **_):
    queues = ",".join(sorted(q.name for q in sender.app.amqp.queues.consume_from.values()))
    wid = worker_id(queues)
    os.environ["AFINA_WORKER_ID"] = wid
    device = detect_device(settings.worker_device)
    # measured once per machine, torch version and thread count (a few seconds), then read from the cache
    device["peak_flops"] = device_peak(settings.home, device["device"])
    with session_scope(settings.database_url) as session:
        job_runtime.register_worker(session, wid, queues, device)
    # heartbeats first: a failure below must not leave a live worker looking dead
    threading.Thread(target=_housekeeping, args=(wid,), daemon=True, name="afina-housekeeping").start()
    try:
        with session_scope(settings.database_url) as session:
            job_runtime.recover_stale_jobs(session, settings)
            if "train" in queues:
                job_runtime.requeue_waiting_jobs(session, settings)
    except Exception:  # the housekeeping thread retries the recovery every period
        log.exception("start-up recovery failed")
    log.info("Afina worker %s ready", wid)


@worker_shutdown.connect
def _on_shutdown(**_):
    _stop.set()
    wid = os.environ.get("AFINA_WORKER_ID")
    if wid:
        with session_scope(settings.database_url) as session:
            job_runtime.unregister_worker(session, wid)
