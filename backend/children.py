"""The worker processes that `afina up` runs beside the API: started, watched, restarted with backoff when
they die, stopped with the studio.

A worker that dies (killed by the out-of-memory killer, a crash in a native library, a stray `kill`) is
started again after 1 s, then 2 s, 4 s ... up to `max_backoff`; a worker that stayed up for `stable_after`
seconds counts as healthy again and its next restart waits 1 s. Each restart is printed and logged.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Child:
    name: str
    command: list[str]
    log_path: str
    proc: subprocess.Popen | None = None
    started: float = 0.0
    restarts: int = 0  # consecutive quick deaths: sets the next backoff
    restart_at: float | None = None


@dataclass
class WorkerChildren:
    """Start with `start(name, command, log_path)`; `watch()` runs the restart loop in a daemon thread."""

    say: Callable[[str], None] = print
    base_backoff: float = 1.0
    max_backoff: float = 60.0
    stable_after: float = 60.0
    poll_every: float = 0.5
    children: list[Child] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self, name: str, command: list[str], log_path: str) -> None:
        child = Child(name, command, log_path)
        self._spawn(child)
        self.children.append(child)

    def _spawn(self, child: Child) -> None:
        with open(child.log_path, "ab") as out:
            child.proc = subprocess.Popen(child.command, stdout=out, stderr=subprocess.STDOUT)
        child.started, child.restart_at = time.monotonic(), None

    def check(self) -> None:
        """One pass: schedule a restart for each child that died, start those whose backoff has passed."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at and not self._stop.is_set():
                    self._spawn(child)
                    self.say(f"Restarted the {child.name} worker (pid {child.proc.pid}).")
                continue
            code = child.proc.poll()
            if code is None:
                if now - child.started >= self.stable_after:
                    child.restarts = 0
                continue
            delay = min(self.max_backoff, self.base_backoff * 2**child.restarts)
            child.restarts += 1
            child.restart_at = now + delay
            self.say(
                f"The {child.name} worker (pid {child.proc.pid}) exited with code {code}; restarting it in "
                f"{delay:g} s (restart {child.restarts}). Its log: {child.log_path}"
            )

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_every):
            try:
                self.check()
            except Exception:  # keep watching whatever one restart did
                log.exception("could not restart a worker")

    def watch(self) -> None:
        threading.Thread(target=self._loop, daemon=True, name="afina-worker-watch").start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        running = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        for proc in running:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
