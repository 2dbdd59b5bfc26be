"""Jobs › what is shown: the jobs table, and everything the detail panel shows for one job, as plain data (a
JobView); the wiring in tab.py turns it into component updates."""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace

import pandas as pd

from ui.client import ApiError
from ui.tabs.common import client_for, error_md, error_text, when
from ui.tabs.jobs.metrics import (
    human,
    loss_names,
    metric_frame,
    metric_options,
    overfitting_warning,
    picked_metrics,
    step_range,
)
from ui.tabs.jobs.queue import queue_md, status_cell

ACTIVE = ("queued", "running", "paused")
ACTIONS = ("cancel", "pause", "resume")
# What matters first: which job, where it is; when and what it made last (narrow screens scroll to those).
TABLE_COLUMNS = [
    "ID",
    "Name",
    "Status",
    "Step",
    "Progress",
    "Owner",
    "Method",
    "Created",
    "Finished",
    "Output model",
]
EVENT_COLUMNS = ["Time", "Level", "Message"]
STATUS_COLOURS = {
    "succeeded": "#15803d",
    "failed": "#b91c1c",
    "cancelled": "#6b7280",
    "running": "#1d4ed8",
    "paused": "#b45309",
    "queued": "#6d28d9",
}
EVENTS_SHOWN = 200
CHECKPOINT_COLUMNS = ["Step", "Metrics", "Saved"]
NO_JOB = "Pick a job above to follow it."
# A checkpoint's metrics that say how good it is (not counters such as runtime or tokens seen).
_CHECKPOINT_METRIC_WORDS = ("loss", "reward", "accuracy", "kl", "margin", "entropy")


def step_text(job: dict) -> str:
    """'20/80' (or '20' when the plan is unknown): the same words in the table and in the detail."""
    return (
        f"{job['current_step']}/{job['total_steps']}" if job.get("total_steps") else str(job["current_step"])
    )


def _table_line(job: dict) -> list:
    return [
        job["id"],
        job["name"],
        status_cell(job),
        step_text(job),
        f"{job['progress'] * 100:.0f}%",
        job.get("owner") or "",
        job["method"],
        when(job.get("created_at")),
        when(job.get("finished_at")),
        job.get("output_model_id") or "",
    ]


def _choice(job: dict) -> tuple[str, int]:
    owner = f" · {job['owner']}" if job.get("owner") else ""
    return f"#{job['id']} {job['name']} ({job['status']}{owner})", job["id"]


def jobs_table(api_url: str, token: str) -> tuple[pd.DataFrame, list[tuple[str, int]], str]:
    """(table of recent jobs, choices for the job picker, message)."""
    if not token:
        return pd.DataFrame([], columns=TABLE_COLUMNS), [], ""
    try:
        page = client_for(api_url, token).list_jobs(limit=100)
    except ApiError as exc:
        return pd.DataFrame([], columns=TABLE_COLUMNS), [], error_md(exc)
    lines = [_table_line(job) for job in page["items"]]
    choices = [_choice(job) for job in page["items"]]
    note = "" if lines else "No jobs yet: launch one from the Train tab."
    return pd.DataFrame(lines, columns=TABLE_COLUMNS), choices, note


def own_newest_job(api_url: str, token: str, choices: list[tuple[str, int]]) -> int | None:
    """The newest of the signed-in user's own jobs among `choices`: what the picker shows first, so that a
    button such as Cancel never starts on another user's job. None when they have none."""
    try:
        client = client_for(api_url, token)
        me = client.me()["username"]
        mine = {job["id"] for job in client.list_jobs(limit=100)["items"] if job.get("owner") == me}
    except ApiError:
        return None
    return next((job_id for _, job_id in choices if job_id in mine), None)


def progress_html(progress: float, status: str) -> str:
    """A progress bar with its percentage, coloured by status."""
    pct = max(0.0, min(1.0, progress or 0.0)) * 100
    colour = STATUS_COLOURS.get(status, "#1d4ed8")
    return (
        f'<div data-progress="{pct:.0f}" style="display:flex;align-items:center;gap:12px;width:100%">'
        f'<div style="flex:1;height:14px;background:#e5e7eb;border-radius:7px;overflow:hidden">'
        f'<div style="width:{pct:.1f}%;height:100%;background:{colour};transition:width .5s"></div></div>'
        f'<span class="afina-progress-text" style="font-weight:600;min-width:3.5em;text-align:right">'
        f"{pct:.0f}%</span></div>"
    )


def checkpoints_table(checkpoints: list[dict]) -> pd.DataFrame:
    """Newest first: step, the metrics recorded with it, when it was saved."""
    lines = [
        [
            c["step"],
            " · ".join(
                f"{k} {human(v)}"
                for k, v in sorted((c.get("metrics") or {}).items())
                if any(word in k for word in _CHECKPOINT_METRIC_WORDS)
            ),
            when(c.get("created_at")),
        ]
        for c in sorted(checkpoints, key=lambda c: -c["step"])
    ]
    return pd.DataFrame(lines, columns=CHECKPOINT_COLUMNS)


def error_html(error: str | None, status: str) -> str:
    """A failed job's error, boxed in red so it is the first thing seen; the end of a long traceback."""
    if not error:
        return ""
    text = error if len(error) <= 4000 else "…" + error[-4000:]
    title = "This job failed" if status == "failed" else "Last error"
    return (
        '<div style="border:1px solid #fca5a5;background:#fef2f2;color:#7f1d1d;border-radius:8px;'
        'padding:10px 14px;margin:4px 0">'
        f'<div style="font-weight:700;margin-bottom:6px">{title}</div>'
        '<pre style="white-space:pre-wrap;margin:0;max-height:260px;overflow:auto;font-size:13px;'
        f'background:transparent;color:inherit;border:0;padding:0">{html.escape(text)}</pre></div>'
    )


def _model_name(client, model_id: int | None) -> str:
    if not model_id:
        return ""
    try:
        return client.get_model(int(model_id))["name"]
    except ApiError:
        return ""


def _outputs_md(job: dict, names: dict[int, str]) -> str:
    """The models a job made, with their names: '' when none yet."""
    outputs = []
    for label, model_id in (
        ("Output model", job.get("output_model_id")),
        ("merged model", (job.get("result") or {}).get("merged_model_id")),
    ):
        if model_id:
            outputs.append(
                f"{label} **#{model_id}**"
                + (f" {html.escape(names[model_id])}" if names.get(model_id) else "")
            )
    return " · ".join(outputs) + ": try it in the **Compare** tab." if outputs else ""


def _status_md(job: dict, names: dict[int, str] | None = None) -> str:
    colour = STATUS_COLOURS.get(job["status"], "#374151")
    step = f"step {step_text(job)}"
    owner = f" · owner **{html.escape(job['owner'])}**" if job.get("owner") else ""
    lines = [
        f"### #{job['id']} {html.escape(job['name'])}",
        f"<span style='color:{colour};font-weight:700;text-transform:uppercase'>{job['status']}</span>"
        f" · {step}{owner} · method **{job['method']}** · base model #{job['base_model_id']}"
        + (f" · attempt {job['attempt']}" if job.get("attempt", 1) > 1 else ""),
    ]
    times = [f"created {when(job.get('created_at'))}"]
    if job.get("started_at"):
        times.append(f"started {when(job['started_at'])}")
    if job.get("finished_at"):
        times.append(f"finished {when(job['finished_at'])}")
    lines.append(" · ".join(times) + " (UTC)")
    outputs = _outputs_md(job, names or {})
    if outputs:
        lines.append(outputs)
    latest = {name: points[-1][1] for name, points in (job.get("metrics") or {}).items() if points}
    throughput = throughput_md(latest)
    if throughput:
        lines.append(throughput)
    if latest:
        lines.append(
            "Latest: " + " · ".join(f"{name} **{human(value)}**" for name, value in sorted(latest.items()))
        )
    return "\n\n".join(lines)


def throughput_md(latest: dict[str, float]) -> str:
    """Training speed in the latest logging window: tokens/s and MFU against the worker's measured peak."""
    if "tokens_per_s" not in latest:
        return ""
    text = f"Throughput **{latest['tokens_per_s']:.0f} tokens/s**"
    if "mfu" in latest:
        text += f" · MFU **{100 * latest['mfu']:.1f} %** of the device's measured peak"
    return text


@dataclass(frozen=True)
class Signature:
    """What the detail panel shows, in brief: a poll that finds the same signature sends nothing."""

    job_id: int
    status: str
    step: int
    progress: float | None
    points: int
    last_event_id: int
    checkpoints: int
    options: tuple[str, ...]
    picked: tuple[str, ...]
    smoothing: float
    queue: str = ""  # a queued job's line and wait, which change while it waits


def _empty_frame() -> pd.DataFrame:
    return metric_frame({}, [])


@dataclass(frozen=True)
class JobView:
    """Everything the detail panel shows for one job, by part."""

    status: str = NO_JOB
    error: str = ""
    progress: str = field(default_factory=lambda: progress_html(0, ""))
    plots: dict[str, pd.DataFrame] = field(
        default_factory=lambda: {"loss": _empty_frame(), "lr": _empty_frame(), "extra": _empty_frame()}
    )
    metric_options: list[str] = field(default_factory=list)
    metrics_picked: list[str] = field(default_factory=list)
    warning: str = ""
    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame([], columns=EVENT_COLUMNS))
    checkpoints: pd.DataFrame = field(default_factory=lambda: checkpoints_table([]))
    can: frozenset[str] = frozenset()  # which of ACTIONS the job's status allows
    signature: Signature | None = None
    x_range: list[int] = field(default_factory=lambda: step_range({}, None))


def allowed_actions(status: str) -> frozenset[str]:
    can = set()
    if status in ACTIVE:
        can.add("cancel")
    if status in ("queued", "running"):
        can.add("pause")
    if status == "paused":
        can.add("resume")
    return frozenset(can)


def _events_frame(events: list[dict]) -> pd.DataFrame:
    shown = events[-EVENTS_SHOWN:][::-1]
    return pd.DataFrame(
        [[when(e["created_at"]), e["level"], e["message"]] for e in shown], columns=EVENT_COLUMNS
    )


def _signature(
    job: dict, events: list[dict], checkpoints: list[dict], options, chosen, smoothing
) -> Signature:
    return Signature(
        job_id=job["id"],
        status=job["status"],
        step=job["current_step"],
        progress=job.get("progress"),
        points=sum(len(p) for p in (job.get("metrics") or {}).values()),
        last_event_id=events[-1]["id"] if events else 0,
        checkpoints=len(checkpoints),
        options=tuple(options),
        picked=tuple(chosen),
        smoothing=smoothing,
    )


def job_view(
    api_url: str, token: str, job_id: int | None, picked: list[str] | None = None, smoothing: float = 0.0
) -> JobView:
    """Everything the detail panel shows for one job (plain data: the wiring turns it into updates);
    `smoothing` (0 to <1) adds smoothed curves to the loss and method-metric plots."""
    if not token or not job_id:
        return JobView()
    try:
        client = client_for(api_url, token)
        job = client.get_job(int(job_id))
        events = client.job_events(int(job_id))
        checkpoints = client.job_checkpoints(int(job_id))
        line = client.list_jobs(limit=100)["items"] if job["status"] == "queued" else []
    except ApiError as exc:
        return replace(JobView(), status=error_md(exc))
    model_ids = [job.get("output_model_id"), (job.get("result") or {}).get("merged_model_id")]
    names = {m: _model_name(client, m) for m in model_ids if m}
    metrics = job.get("metrics") or {}
    options = metric_options(metrics)
    chosen = picked_metrics(options, picked)
    smoothing = min(max(float(smoothing or 0.0), 0.0), 0.99)
    queue = queue_md(job, line)
    return JobView(
        status="\n\n".join(filter(None, [_status_md(job, names), queue])),
        error=error_html(job.get("error"), job["status"]),
        progress=progress_html(job.get("progress", 0.0), job["status"]),
        plots={
            "loss": metric_frame(metrics, loss_names(metrics), smoothing),
            "lr": metric_frame(metrics, ["learning_rate"] if "learning_rate" in metrics else []),
            "extra": metric_frame(metrics, chosen, smoothing),
        },
        metric_options=options,
        metrics_picked=chosen,
        warning=overfitting_warning(metrics),
        events=_events_frame(events),
        checkpoints=checkpoints_table(checkpoints),
        can=allowed_actions(job["status"]),
        signature=replace(_signature(job, events, checkpoints, options, chosen, smoothing), queue=queue),
        x_range=step_range(metrics, job.get("total_steps")),
    )


def cancel_question(api_url: str, token: str, job_id: int | None) -> str:
    """What the Cancel button asks before it cancels: which job, whose, in what state."""
    if not job_id:
        return "**Pick a job first.**"
    try:
        job = client_for(api_url, token).get_job(int(job_id))
    except ApiError as exc:
        return error_md(exc)
    owner = f", owned by **{html.escape(job['owner'])}**" if job.get("owner") else ""
    return (
        f"**Cancel job #{job['id']} {html.escape(job['name'])}** ({job['status']}, step {step_text(job)}"
        f"{owner})? Its progress since the last checkpoint is lost."
    )


def job_action(api_url: str, token: str, job_id: int | None, action: str) -> str:
    """Cancel, pause or resume; returns a markdown line for the user."""
    if not job_id:
        return "**Pick a job first.**"
    try:
        job = client_for(api_url, token).job_action(int(job_id), action)
    except ApiError as exc:
        return f"**Could not {action} job #{job_id}:** {html.escape(error_text(exc))}"
    return f"Job #{job['id']} is now **{job['status']}**."
