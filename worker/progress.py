"""The worker's Reporter: training code reports metrics, events and progress here; they land on the job row."""

from __future__ import annotations

import math
import signal

from backend.config import Settings
from backend.db import session_scope
from backend.services import job_runtime


class DatabaseReporter:
    """Implements worker.training.reporting.Reporter for one job; SIGUSR1 from the supervisor means pause."""

    def __init__(self, settings: Settings, job_id: int) -> None:
        self.settings = settings
        self.job_id = job_id
        self._stop: str | None = None
        signal.signal(signal.SIGUSR1, self._on_pause_signal)

    def _on_pause_signal(self, *_):
        self._stop = "pause"

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        finite = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and math.isfinite(v)}
        if finite:
            with session_scope(self.settings.database_url) as session:
                job_runtime.add_metrics(session, self.job_id, step, finite)

    def log_event(self, message: str, level: str = "info") -> None:
        with session_scope(self.settings.database_url) as session:
            job_runtime.add_event(session, self.job_id, message, level)

    def set_progress(self, step: int, total_steps: int) -> None:
        with session_scope(self.settings.database_url) as session:
            job_runtime.set_progress(session, self.job_id, step, total_steps)

    def should_stop(self) -> str | None:
        return self._stop
