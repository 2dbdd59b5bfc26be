"""Jobs › metrics: which of a job's metrics to plot, as points for gr.LinePlot; the overfitting warning."""

from __future__ import annotations

import pandas as pd

PLOT_COLUMNS = ["step", "value", "metric"]
# Metrics worth a plot of their own, in the order the picker offers them (others a job reports follow).
EXTRA_METRICS = (
    "eval_loss",
    "grad_norm",
    "tokens_per_s",
    "mfu",
    "memory_gb",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "rewards/accuracies",
    "eval_accuracy",
    "reward",
    "kl",
    "entropy",
)
# What the picker shows first, when a job has them: the signal of its method.
DEFAULT_PICKS = (
    ("rewards/chosen", "rewards/rejected"),
    ("reward",),
    ("rewards/margins",),
    ("eval_accuracy",),
    ("grad_norm",),
    ("tokens_per_s",),
    ("memory_gb",),
)
_PLOTTED_ELSEWHERE = ("learning_rate", "epoch")


def metric_frame(metrics: dict[str, list], names: list[str]) -> pd.DataFrame:
    """Long-format points (step, value, metric) of the named metrics, for gr.LinePlot."""
    lines = [(int(step), float(value), name) for name in names for step, value in metrics.get(name, [])]
    # Typed columns even when empty: the plot reads its axis types from them (object -> a nominal axis).
    return pd.DataFrame(lines, columns=PLOT_COLUMNS).astype(
        {"step": "int64", "value": "float64", "metric": "str"}
    )


def plot_series(frame: pd.DataFrame) -> tuple[str, ...]:
    """The series a plot frame holds, in order of first appearance."""
    return tuple(dict.fromkeys(frame["metric"]))


def loss_names(metrics: dict[str, list]) -> list[str]:
    """The losses a job reports, the training loss first: what the loss plot draws."""
    return sorted((n for n in metrics if "loss" in n), key=lambda n: (n != "loss", n))


def metric_options(metrics: dict[str, list]) -> list[str]:
    """The metrics a job has that the metric picker offers: the known ones in order, then any other it reports
    (training losses are on the loss plot; eval_loss is offered too, to view it alone)."""
    present = [name for name, points in metrics.items() if points]
    known = [name for name in EXTRA_METRICS if name in present]
    others = sorted(
        n
        for n in present
        if n not in known and n not in _PLOTTED_ELSEWHERE and not (("loss" in n) and n != "eval_loss")
    )
    return known + others


def default_metrics(options: list[str]) -> list[str]:
    for group in DEFAULT_PICKS:
        chosen = [name for name in group if name in options]
        if chosen:
            return chosen
    return options[:1]


def picked_metrics(options: list[str], picked: list[str] | None) -> list[str]:
    """The user's pick among what exists now; the method's default when nothing picked exists (yet)."""
    chosen = [name for name in picked or [] if name in options]
    return chosen or default_metrics(options)


def overfitting_warning(metrics: dict[str, list], *, tolerance: float = 0.01) -> str:
    """A warning when validation loss has risen since its best point while training continues, else ''.

    Rising for two evaluations in a row, or more than 5% above the best, is a signal rather than noise.
    """
    points = metrics.get("eval_loss") or []
    if len(points) < 3:
        return ""
    values = [v for _, v in points]
    best_i = min(range(len(values)), key=values.__getitem__)
    best, latest = values[best_i], values[-1]
    rises = sum(current > previous * (1 + tolerance) for previous, current in zip(values[-3:-1], values[-2:]))
    if best_i == len(values) - 1 or not (rises >= 2 or latest > best * 1.05):
        return ""
    return (
        f"⚠️ **Possible overfitting:** validation loss rose from its best {best:.4f} "
        f"(step {points[best_i][0]}) to {latest:.4f} (step {points[-1][0]}). Consider fewer epochs, a lower "
        "learning rate, more data, or early stopping (Training → early stopping patience)."
    )
