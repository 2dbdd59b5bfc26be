"""The worker's Reporter: training code reports metrics, events and progress here; they land on the job row.

Writes are batched: a step's progress and metrics wait in memory and go to the database in one transaction at
most every `flush_every` seconds (the heartbeat interval), so a 100k-step run does not make 100k commits. An
event flushes at once (with what is pending before it, to keep the order), and `flush()` writes the rest: the
child calls it when training ends, fails, is paused or is stopped by SIGTERM (cancel).
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable

from backend.config import Settings
from backend.db import session_scope
from backend.services import job_runtime


class DatabaseReporter:
    """Implements worker.training.reporting.Reporter for one job; SIGUSR1 from the supervisor means pause."""

    def __init__(
        self,
        settings: Settings,
        job_id: int,
        *,
        flush_every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.job_id = job_id
        self.flush_every = settings.heartbeat_interval if flush_every is None else flush_every
        self._clock = clock
        self._last_flush = -math.inf  # the first report goes out at once: the UI learns the total steps
        self._metrics: list[tuple[int, dict[str, float]]] = []
        self._progress: tuple[int, int | None] | None = None
        self._stop: str | None = None
        signal.signal(signal.SIGUSR1, self._on_pause_signal)

    def _on_pause_signal(self, *_):
        self._stop = "pause"

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        finite = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and math.isfinite(v)}
        if finite:
            self._metrics.append((step, finite))
            self._flush_when_due()

    def set_progress(self, step: int, total_steps: int) -> None:
        self._progress = (step, total_steps)
        self._flush_when_due()

    def log_event(self, message: str, level: str = "info") -> None:
        with session_scope(self.settings.database_url) as session:
            self._write_pending(session)
            job_runtime.add_event(session, self.job_id, message, level)

    def should_stop(self) -> str | None:
        return self._stop

    def flush(self) -> None:
        """Write whatever is pending, in one transaction."""
        if self._metrics or self._progress is not None:
            with session_scope(self.settings.database_url) as session:
                self._write_pending(session)

    def _flush_when_due(self) -> None:
        if self._clock() - self._last_flush >= self.flush_every:
            self.flush()

    def _write_pending(self, session) -> None:
        job_runtime.record_progress(session, self.job_id, self._progress, self._metrics)
        self._metrics, self._progress = [], None
        self._last_flush = self._clock()
