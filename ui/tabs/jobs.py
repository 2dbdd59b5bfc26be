"""Jobs tab: every job, and the chosen one live: status, progress, loss curve, the method's own metrics (rewards,
KL, throughput, memory...), checkpoints, events, cancel / pause / resume.

Polling is a gr.Timer that ticks only while this tab is open; the job itself lives on the server, so closing the
browser never touches it.
"""

from __future__ import annotations

import html
from functools import partial

import gradio as gr
import pandas as pd

from ui.client import ApiError
from ui.tabs.common import client_for, error_md, error_text, when

POLL_SECONDS = 2.0
ACTIVE = ("queued", "running", "paused")
TABLE_COLUMNS = ["ID", "Name", "Method", "Status", "Progress", "Step", "Created", "Finished", "Output model"]
EVENT_COLUMNS = ["Time", "Level", "Message"]
PLOT_COLUMNS = ["step", "value", "metric"]
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
# Metrics worth a plot of their own, in the order the picker offers them (others a job reports follow).
EXTRA_METRICS = (
    "eval_loss",
    "grad_norm",
    "tokens_per_s",
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
# A checkpoint's metrics that say how good it is (not counters such as runtime or tokens seen).
_CHECKPOINT_METRIC_WORDS = ("loss", "reward", "accuracy", "kl", "margin", "entropy")


# -- handlers (plain functions) -------------------------------------------------------------------------------


def jobs_table(api_url: str, token: str) -> tuple[pd.DataFrame, list[tuple[str, int]], str]:
    """(table of recent jobs, choices for the job picker, message)."""
    if not token:
        return pd.DataFrame([], columns=TABLE_COLUMNS), [], ""
    try:
        page = client_for(api_url, token).list_jobs(limit=100)
    except ApiError as exc:
        return pd.DataFrame([], columns=TABLE_COLUMNS), [], error_md(exc)
    lines, choices = [], []
    for job in page["items"]:
        step = (
            f"{job['current_step']}/{job['total_steps']}"
            if job.get("total_steps")
            else str(job["current_step"])
        )
        lines.append(
            [
                job["id"],
                job["name"],
                job["method"],
                job["status"],
                f"{job['progress'] * 100:.0f}%",
                step,
                when(job.get("created_at")),
                when(job.get("finished_at")),
                job.get("output_model_id") or "",
            ]
        )
        choices.append((f"#{job['id']} {job['name']} ({job['status']})", job["id"]))
    note = "" if lines else "No jobs yet: launch one from the Train tab."
    return pd.DataFrame(lines, columns=TABLE_COLUMNS), choices, note


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


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def checkpoints_table(checkpoints: list[dict]) -> pd.DataFrame:
    """Newest first: step, the metrics recorded with it, when it was saved."""
    lines = [
        [
            c["step"],
            " · ".join(
                f"{k} {_fmt(v)}"
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
        f"⚠️ **Possible overfitting:** validation loss rose from its best {best:.4f} (step {points[best_i][0]}) "
        f"to {latest:.4f} (step {points[-1][0]}). Consider fewer epochs, a lower learning rate, more data, "
        "or early stopping (Training → early stopping patience)."
    )


def _model_name(client, model_id: int | None) -> str:
    if not model_id:
        return ""
    try:
        return client.get_model(int(model_id))["name"]
    except ApiError:
        return ""


def _status_md(job: dict, names: dict[int, str] | None = None) -> str:
    colour = STATUS_COLOURS.get(job["status"], "#374151")
    step = f"step {job['current_step']}" + (f" of {job['total_steps']}" if job.get("total_steps") else "")
    lines = [
        f"### #{job['id']} {html.escape(job['name'])}",
        f"<span style='color:{colour};font-weight:700;text-transform:uppercase'>{job['status']}</span>"
        f" · {step} · method **{job['method']}** · base model #{job['base_model_id']}"
        + (f" · attempt {job['attempt']}" if job.get("attempt", 1) > 1 else ""),
    ]
    times = [f"created {when(job.get('created_at'))}"]
    if job.get("started_at"):
        times.append(f"started {when(job['started_at'])}")
    if job.get("finished_at"):
        times.append(f"finished {when(job['finished_at'])}")
    lines.append(" · ".join(times) + " (UTC)")
    names = names or {}
    outputs = []
    if job.get("output_model_id"):
        model_id = job["output_model_id"]
        outputs.append(
            f"Output model **#{model_id}**"
            + (f" {html.escape(names[model_id])}" if names.get(model_id) else "")
        )
    merged_id = (job.get("result") or {}).get("merged_model_id")
    if merged_id:
        outputs.append(
            f"merged model **#{merged_id}**"
            + (f" {html.escape(names[merged_id])}" if names.get(merged_id) else "")
        )
    if outputs:
        lines.append(" · ".join(outputs) + ": try it in the **Compare** tab.")
    latest = {name: points[-1][1] for name, points in (job.get("metrics") or {}).items() if points}
    if latest:
        lines.append(
            "Latest: " + " · ".join(f"{name} **{value:.4g}**" for name, value in sorted(latest.items()))
        )
    return "\n\n".join(lines)


def job_view(api_url: str, token: str, job_id: int | None, picked: list[str] | None = None) -> dict:
    """Everything the detail panel shows for one job, by part name (plain data: the wiring turns it into updates)."""
    empty = {
        "status": "Pick a job above to follow it.",
        "error": "",
        "progress": progress_html(0, ""),
        "loss": metric_frame({}, []),
        "lr": metric_frame({}, []),
        "extra": metric_frame({}, []),
        "metric_options": [],
        "metrics_picked": [],
        "warning": "",
        "events": pd.DataFrame([], columns=EVENT_COLUMNS),
        "checkpoints": checkpoints_table([]),
        "can": set(),
        "signature": None,
    }
    if not token or not job_id:
        return empty
    try:
        client = client_for(api_url, token)
        job = client.get_job(int(job_id))
        events = client.job_events(int(job_id))
        checkpoints = client.job_checkpoints(int(job_id))
    except ApiError as exc:
        return {**empty, "status": error_md(exc)}
    model_ids = [job.get("output_model_id"), (job.get("result") or {}).get("merged_model_id")]
    names = {m: _model_name(client, m) for m in model_ids if m}
    metrics = job.get("metrics") or {}
    options = metric_options(metrics)
    chosen = picked_metrics(options, picked)
    loss_names = sorted((n for n in metrics if "loss" in n), key=lambda n: (n != "loss", n))
    can = set()
    if job["status"] in ACTIVE:
        can.add("cancel")
    if job["status"] in ("queued", "running"):
        can.add("pause")
    if job["status"] == "paused":
        can.add("resume")
    shown = events[-EVENTS_SHOWN:][::-1]
    return {
        "status": _status_md(job, names),
        "error": error_html(job.get("error"), job["status"]),
        "progress": progress_html(job.get("progress", 0.0), job["status"]),
        "loss": metric_frame(metrics, loss_names),
        "lr": metric_frame(metrics, ["learning_rate"] if "learning_rate" in metrics else []),
        "extra": metric_frame(metrics, chosen),
        "metric_options": options,
        "metrics_picked": chosen,
        "warning": overfitting_warning(metrics),
        "events": pd.DataFrame(
            [[when(e["created_at"]), e["level"], e["message"]] for e in shown], columns=EVENT_COLUMNS
        ),
        "checkpoints": checkpoints_table(checkpoints),
        "can": can,
        "signature": (
            job["id"],
            job["status"],
            job["current_step"],
            job.get("progress"),
            sum(len(p) for p in metrics.values()),
            events[-1]["id"] if events else 0,
            len(checkpoints),
            tuple(options),
            tuple(chosen),
        ),
    }


def job_action(api_url: str, token: str, job_id: int | None, action: str) -> str:
    """Cancel, pause or resume; returns a markdown line for the user."""
    if not job_id:
        return "**Pick a job first.**"
    try:
        job = client_for(api_url, token).job_action(int(job_id), action)
    except ApiError as exc:
        return f"**Could not {action} job #{job_id}:** {html.escape(error_text(exc))}"
    return f"Job #{job['id']} is now **{job['status']}**."


# -- layout and wiring ----------------------------------------------------------------------------------------


def build_jobs_tab(api_url: str, token: gr.State, timer: gr.Timer) -> gr.Tab:
    """`timer` drives the live view; the caller places it outside any tab and turns it on only while this tab
    is open."""
    with gr.Tab("Jobs", id="jobs", elem_id="tab-jobs") as tab:
        with gr.Row():
            note = gr.Markdown("", elem_id="jobs-message")
            refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="jobs-refresh")
        table = gr.Dataframe(
            pd.DataFrame([], columns=TABLE_COLUMNS),
            interactive=False,
            max_height=260,
            elem_id="jobs-table",
            show_label=False,
        )
        with gr.Row(equal_height=True):
            picker = gr.Dropdown(
                [],
                value=None,
                label="Job",
                elem_id="jobs-select",
                scale=3,
                info="Or click a row of the table.",
            )
            cancel = gr.Button("Cancel", variant="stop", interactive=False, elem_id="jobs-cancel", scale=0)
            pause = gr.Button("Pause", interactive=False, elem_id="jobs-pause", scale=0)
            resume = gr.Button("Resume", interactive=False, elem_id="jobs-resume", scale=0)
        action_result = gr.Markdown("", elem_id="jobs-action-result")
        status = gr.Markdown("Pick a job above to follow it.", elem_id="jobs-status")
        error = gr.HTML("", elem_id="jobs-error")
        progress = gr.HTML(progress_html(0, ""), elem_id="jobs-progress")
        warning = gr.Markdown("", elem_id="jobs-warning")
        with gr.Row():
            loss_plot = gr.LinePlot(
                None,
                x="step",
                y="value",
                color="metric",
                title="Loss",
                x_title="Step",
                y_title="Loss",
                color_title="Metric",
                height=320,
                scale=3,
                elem_id="jobs-loss-plot",
                show_label=False,
            )
            lr_plot = gr.LinePlot(
                None,
                x="step",
                y="value",
                color="metric",
                title="Learning rate",
                x_title="Step",
                y_title="LR",
                height=320,
                scale=2,
                elem_id="jobs-lr-plot",
                show_label=False,
            )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                metric_plot = gr.LinePlot(
                    None,
                    x="step",
                    y="value",
                    color="metric",
                    title="Method metrics",
                    x_title="Step",
                    y_title="Value",
                    color_title="Metric",
                    height=300,
                    elem_id="jobs-metric-plot",
                    show_label=False,
                )
            with gr.Column(scale=2, min_width=300):
                metric_picker = gr.Dropdown(
                    [],
                    value=[],
                    multiselect=True,
                    label="Metrics to plot",
                    info="Whatever this job reports: rewards, KL, gradient norm, tokens/s, memory...",
                    elem_id="jobs-metric",
                )
                checkpoints = gr.Dataframe(
                    checkpoints_table([]),
                    label="Checkpoints",
                    interactive=False,
                    wrap=True,
                    max_height=220,
                    elem_id="jobs-checkpoints",
                    column_widths=["15%", "55%", "30%"],
                )
        events = gr.Dataframe(
            pd.DataFrame([], columns=EVENT_COLUMNS),
            label="Events (newest first)",
            interactive=False,
            wrap=True,
            max_height=300,
            elem_id="jobs-events",
        )
        # What the page shows now, so a tick that finds nothing new sends nothing (no flicker). Inside the tab:
        # anything placed directly in a gr.Tabs becomes a phantom tab.
        signature, table_signature = gr.State(None), gr.State(None)
        # Gradio 6's LinePlot keeps the colours of the series it first drew: a series that appears later
        # (eval_loss) stays invisible. So when the set of series changes, the plot is cleared in one step and
        # drawn in the next (`pending` carries the data between the two).
        shown_series, pending = gr.State(((), (), ())), gr.State(None)

    plots = (loss_plot, lr_plot, metric_plot)

    def _view(token_value, job_id, picked=None, last_signature=None, last_series=None, force=True):
        view = job_view(api_url, token_value, job_id, picked)
        if not force and view["signature"] is not None and view["signature"] == last_signature:
            return [gr.skip()] * len(view_outputs)
        frames = (view["loss"], view["lr"], view["extra"])
        series = tuple(plot_series(f) for f in frames)
        last_series = last_series if last_series and len(last_series) == len(frames) else ((),) * len(frames)
        drawn = [
            None if new != old or not new else frame
            for frame, new, old in zip(frames, series, last_series, strict=True)
        ]
        options, chosen = view["metric_options"], view["metrics_picked"]
        # Redraw the picker only when its choices or value change: an update closes it under the user's cursor.
        shown_options = list(last_signature[7]) if last_signature and len(last_signature) > 7 else None
        picker_update = (
            gr.Dropdown(choices=options, value=chosen)
            if shown_options != options or chosen != list(picked or [])
            else gr.skip()
        )
        return [
            view["status"],
            view["error"],
            view["progress"],
            view["warning"],
            *drawn,
            picker_update,
            view["events"],
            view["checkpoints"],
            gr.Button(interactive="cancel" in view["can"]),
            gr.Button(interactive="pause" in view["can"]),
            gr.Button(interactive="resume" in view["can"]),
            view["signature"],
            series,
            [f if p is None and not f.empty else None for f, p in zip(frames, drawn, strict=True)],
        ]

    def _draw_pending(frames):
        if not frames:
            return [gr.skip()] * len(plots)
        return [gr.skip() if f is None else f for f in frames]

    view_outputs = [
        status,
        error,
        progress,
        warning,
        *plots,
        metric_picker,
        events,
        checkpoints,
        cancel,
        pause,
        resume,
        signature,
        shown_series,
        pending,
    ]
    view_inputs = [token, picker, metric_picker, signature, shown_series]

    def _table(token_value, job_id, last_table=None, force=True):
        frame, choices, message = jobs_table(api_url, token_value)
        table_signature = (frame.values.tolist(), message)
        if not force and table_signature == last_table:
            return [gr.skip()] * 4
        ids = [c for _, c in choices]
        value = job_id if job_id in ids else (ids[0] if ids else None)
        return [frame, gr.Dropdown(choices=choices, value=value), message, table_signature]

    def _tick(token_value, job_id, picked, last_table, last_view, last_series):
        return [
            *_table(token_value, job_id, last_table, force=False),
            *_view(token_value, job_id, picked, last_view, last_series, force=False),
        ]

    def _new_job(token_value, job_id, _picked, last_signature, last_series):
        return _view(
            token_value, job_id, [], last_signature, last_series
        )  # another job: its method's default

    table_outputs = [table, picker, note, table_signature]
    token.change(_table, inputs=[token, picker], outputs=table_outputs)
    refresh.click(_table, inputs=[token, picker], outputs=table_outputs)
    tab.select(_table, inputs=[token, picker], outputs=table_outputs)
    draw = {"fn": _draw_pending, "inputs": pending, "outputs": list(plots), "show_progress": "hidden"}
    picker.change(_new_job, inputs=view_inputs, outputs=view_outputs).then(**draw)
    metric_picker.input(_view, inputs=view_inputs, outputs=view_outputs).then(**draw)
    timer.tick(
        _tick,
        inputs=[token, picker, metric_picker, table_signature, signature, shown_series],
        outputs=[*table_outputs, *view_outputs],
        show_progress="hidden",
        concurrency_limit=None,
    ).then(**draw)

    def _pick_row(evt: gr.SelectData):
        row = evt.row_value or []
        return row[0] if row else gr.skip()

    table.select(_pick_row, outputs=picker)
    for button, action in ((cancel, "cancel"), (pause, "pause"), (resume, "resume")):
        button.click(
            partial(job_action, api_url, action=action), inputs=[token, picker], outputs=action_result
        ).then(_view, inputs=view_inputs, outputs=view_outputs).then(**draw)
    return tab
