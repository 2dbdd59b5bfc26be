"""Jobs › metrics: which of a job's metrics to plot, as points for gr.LinePlot (optionally smoothed), the
x range that keeps the step axis on whole numbers, numbers written for people; the overfitting warning."""

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
# The step axis spans at least this many steps. The plot (Vega-Lite) puts about one tick per 40 px, and only
# a span of at least ~0.7 steps per tick gives whole-number ticks: 20 steps suit plots up to ~1100 px wide.
# Without it a 6-step job's axis read "1.0 1.2 1.4 ..." and its labels ran together.
MIN_STEP_SPAN = 20
SMOOTHED = " (smoothed)"


def smooth(values: list[float], weight: float) -> list[float]:
    """An exponential moving average with TensorBoard's debiasing: weight 0 leaves the values as they are,
    0.9 follows the trend of the last ~10 points; the first point is never pulled towards zero."""
    if weight <= 0:
        return list(values)
    out, last = [], 0.0
    for count, value in enumerate(values, start=1):
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**count))
    return out


def metric_frame(metrics: dict[str, list], names: list[str], smoothing: float = 0.0) -> pd.DataFrame:
    """Long-format points (step, value, metric) of the named metrics, for gr.LinePlot; with `smoothing` > 0
    each metric also gets a smoothed series ("loss (smoothed)") drawn beside the raw one."""
    lines = [(int(step), float(value), name) for name in names for step, value in metrics.get(name, [])]
    if smoothing > 0:
        for name in names:
            points = metrics.get(name) or []
            smoothed = smooth([float(v) for _, v in points], smoothing)
            lines += [(int(s), v, name + SMOOTHED) for (s, _), v in zip(points, smoothed)]
    # Typed columns even when empty: the plot reads its axis types from them (object -> a nominal axis).
    return pd.DataFrame(lines, columns=PLOT_COLUMNS).astype(
        {"step": "int64", "value": "float64", "metric": "str"}
    )


def step_range(metrics: dict[str, list], total_steps: int | None) -> list[int]:
    """[0, end] for the step axis: the job's planned steps when known (a running job's curve shows how far
    along it is), else its last step; never fewer than MIN_STEP_SPAN so the ticks are whole steps."""
    last = max((int(points[-1][0]) for points in metrics.values() if points), default=0)
    return [0, max(int(total_steps or 0), last, MIN_STEP_SPAN)]


def human(value) -> str:
    """A number for people: 12,345 · 1.234 · 0.0421 · 3.75e-05; other values as they are."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 1e-3:
        return f"{value:.4g}"
    return f"{value:.2e}"


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
