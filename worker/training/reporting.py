"""How training code talks to the outside world: a Reporter protocol and the Trainer callback feeding it."""

from __future__ import annotations

import math
import time
from typing import Protocol, runtime_checkable

import psutil
import torch
from transformers import TrainerCallback

#: Trainer log keys renamed to Afina's metric names; everything else numeric passes through unchanged
_RENAMES = {"train_tokens_per_second": "tokens_per_s", "num_input_tokens_seen": "tokens_seen"}
#: bookkeeping the Trainer logs that is noise on a chart
_DROP = {
    "epoch",
    "total_flos",
    "train_runtime",
    "train_samples_per_second",
    "train_steps_per_second",
    "step",
    "eval_runtime",
    "eval_samples_per_second",
    "eval_steps_per_second",
}


@runtime_checkable
class Reporter(Protocol):
    """What the worker implements (worker.progress.DatabaseReporter) and training code calls."""

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None: ...

    def log_event(self, message: str, level: str = "info") -> None: ...

    def set_progress(self, step: int, total_steps: int) -> None: ...

    def should_stop(self) -> str | None:
        """None to go on, "cancel" to stop without saving, "pause" to checkpoint and stop."""


class NullReporter:
    """Reports nowhere and never stops: for scripts and tests."""

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        pass

    def log_event(self, message: str, level: str = "info") -> None:
        pass

    def set_progress(self, step: int, total_steps: int) -> None:
        pass

    def should_stop(self) -> str | None:
        return None


class RecordingReporter(NullReporter):
    """Keeps everything in lists, and can ask for a stop at a given step: for tests."""

    def __init__(self, stop_at: int | None = None, stop_with: str = "pause") -> None:
        self.metrics: list[tuple[int, dict[str, float]]] = []
        self.events: list[tuple[str, str]] = []
        self.progress: list[tuple[int, int]] = []
        self.stop_at, self.stop_with = stop_at, stop_with

    def log_metrics(self, step, metrics):
        self.metrics.append((step, dict(metrics)))

    def log_event(self, message, level="info"):
        self.events.append((message, level))

    def set_progress(self, step, total_steps):
        self.progress.append((step, total_steps))

    def should_stop(self):
        done = self.progress[-1][0] if self.progress else 0
        return self.stop_with if self.stop_at is not None and done >= self.stop_at else None

    def series(self, name: str) -> list[float]:
        return [m[name] for _, m in self.metrics if name in m]


def memory_metrics() -> dict[str, float]:
    """Peak accelerator memory on CUDA, resident process memory otherwise (GB)."""
    if torch.cuda.is_available():
        return {"memory_gb": torch.cuda.max_memory_allocated() / 1e9}
    return {"memory_gb": psutil.Process().memory_info().rss / 1e9}


def clean_logs(logs: dict) -> dict[str, float]:
    """Finite numeric Trainer logs under Afina's names ("rewards/margins" etc. keep TRL's names)."""
    out = {}
    for key, value in logs.items():
        if key in _DROP or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            out[_RENAMES.get(key, key)] = float(value)
    return out


class ReporterCallback(TrainerCallback):
    """Forwards Trainer logs and progress to a Reporter; obeys its pause (checkpoint, stop), cancel (stop)."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.stopped: str | None = None  # "pause" or "cancel" once the reporter asked
        self._last_tokens: tuple[float, int] | None = None  # (time, tokens seen) at the previous log
        self.flops_per_token: float | None = None  # set by run_recipe once the model and data are known
        self.peak_flops: float | None = None  # measured peak FLOP/s of the device in the run's precision
        self._run: list[float] = [0.0, 0.0]  # tokens and seconds of the logged windows: the run's average

    def set_throughput_model(self, flops_per_token: float | None, peak_flops: float | None) -> None:
        """Enables the mfu metric: MFU = tokens/s x flops_per_token / peak_flops (worker.training.flops)."""
        self.flops_per_token, self.peak_flops = flops_per_token, peak_flops

    def summary(self) -> dict[str, float]:
        """tokens/s and MFU averaged over the run's logged windows, for the job's stored result."""
        tokens, seconds = self._run
        if not tokens or not seconds:
            return {}
        out = {"tokens_per_s": tokens / seconds, **self._mfu(tokens / seconds)}
        if self.flops_per_token:
            out["flops_per_token"] = self.flops_per_token
        return out

    def _mfu(self, tokens_per_s: float) -> dict[str, float]:
        if not self.flops_per_token or not self.peak_flops:
            return {}
        return {"mfu": tokens_per_s * self.flops_per_token / self.peak_flops}

    def on_train_begin(self, args, state, control, **kwargs):
        self._last_tokens = (time.perf_counter(), state.num_input_tokens_seen or 0)
        self.reporter.set_progress(state.global_step, state.max_steps)

    def on_step_end(self, args, state, control, **kwargs):
        self.reporter.set_progress(state.global_step, state.max_steps)
        request = self.reporter.should_stop()
        if request in ("pause", "cancel"):
            self.stopped = request
            control.should_training_stop = True
            # a pause writes a checkpoint now (the Trainer saves after on_step_end); a cancel writes nothing
            control.should_save = request == "pause"
            self.reporter.log_event(
                f"training {'paused' if request == 'pause' else 'cancelled'} at step {state.global_step}",
                "warning",
            )
        return control

    def on_save(self, args, state, control, **kwargs):
        if self.stopped == "cancel":  # a scheduled save can coincide with the cancel step; it is harmless
            return
        self.reporter.log_event(f"checkpoint saved at step {state.global_step}")

    def on_log(self, args, state, control, logs=None, **kwargs):
        metrics = clean_logs(logs or {})
        seen = state.num_input_tokens_seen or 0
        now = time.perf_counter()
        # tokens/s over the last logging window (non-padding tokens): steadier than the Trainer's since-start
        if self._last_tokens is not None and seen > self._last_tokens[1] and "loss" in metrics:
            tokens, seconds = seen - self._last_tokens[1], max(now - self._last_tokens[0], 1e-9)
            metrics["tokens_per_s"] = tokens / seconds
            metrics.update(self._mfu(metrics["tokens_per_s"]))
            self._run = [self._run[0] + tokens, self._run[1] + seconds]
            self._last_tokens = (now, seen)
        if "loss" in metrics or any(k.startswith("eval_") for k in metrics):
            metrics.update(memory_metrics())
        if metrics:
            self.reporter.log_metrics(state.global_step, metrics)
