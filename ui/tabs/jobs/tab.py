"""The Jobs tab's wiring: the table, and the chosen job live on every tick of the caller's timer.

Handlers return {component: update}, so no output is known by its position; a poll that finds nothing new
returns no update at all.
"""

from __future__ import annotations

from functools import partial

import gradio as gr

from ui.tabs.jobs.layout import JobsPanel, build_jobs_layout
from ui.tabs.jobs.metrics import plot_series
from ui.tabs.jobs.view import (
    ACTIONS,
    JobView,
    cancel_question,
    job_action,
    job_view,
    jobs_table,
    own_newest_job,
)

POLL_SECONDS = 2.0


def _plot_updates(panel: JobsPanel, view: JobView, last_series: dict | None) -> dict:
    """The plots, the series they now show, and what `pending` must draw next: a plot whose set of series
    changed is cleared now and drawn by the next step (see JobsPanel)."""
    series = {name: plot_series(frame) for name, frame in view.plots.items()}
    last_series = last_series or {}
    drawn = {
        name: None if series[name] != last_series.get(name, ()) or not series[name] else frame
        for name, frame in view.plots.items()
    }
    pending = {
        name: frame if drawn[name] is None and not frame.empty else None for name, frame in view.plots.items()
    }
    return {
        **{panel.plots[name]: _plot(frame, view.x_range) for name, frame in drawn.items()},
        panel.shown_series: series,
        panel.pending: {"frames": pending, "x_range": view.x_range},
    }


def _plot(frame, x_range: list[int]):
    return None if frame is None else gr.LinePlot(frame, x_lim=x_range)


def _view_updates(panel: JobsPanel, view: JobView, picked: list | None, last_signature) -> dict:
    updates = {
        panel.status: view.status,
        panel.error: view.error,
        panel.progress: view.progress,
        panel.warning: view.warning,
        panel.events: view.events,
        panel.checkpoints: view.checkpoints,
        panel.signature: view.signature,
        **{panel.actions[action]: gr.Button(interactive=action in view.can) for action in ACTIONS},
    }
    # Redraw the picker only when its choices or value change: an update closes it under the user's cursor.
    shown_options = list(last_signature.options) if last_signature else None
    if shown_options != view.metric_options or view.metrics_picked != list(picked or []):
        updates[panel.metric_picker] = gr.Dropdown(choices=view.metric_options, value=view.metrics_picked)
    return updates


def _table_updates(panel: JobsPanel, api_url: str, token: str, job_id, last_table, force: bool) -> dict:
    """The jobs table and picker; {} when polled (`force` False) and nothing changed."""
    frame, choices, message = jobs_table(api_url, token)
    table_signature = (frame.values.tolist(), message)
    if not force and table_signature == last_table:
        return {}
    ids = [c for _, c in choices]
    value = job_id if job_id in ids else own_newest_job(api_url, token, choices)
    return {
        panel.table: frame,
        panel.picker: gr.Dropdown(choices=choices, value=value),
        panel.note: message,
        panel.table_signature: table_signature,
    }


def _pick_row(evt: gr.SelectData):
    row = evt.row_value or []
    return row[0] if row else gr.skip()


def build_jobs_tab(api_url: str, token: gr.State, timer: gr.Timer) -> gr.Tab:
    """`timer` drives the live view; the caller places it outside any tab and turns it on only while this tab
    is open."""
    with gr.Tab("Jobs", id="jobs", elem_id="tab-jobs") as tab:
        panel = build_jobs_layout()

    def _view(
        token_value, job_id, picked=None, smoothing=0.0, last_signature=None, last_series=None, force=True
    ) -> dict:
        """The chosen job's detail; {} when polled (`force` False) and nothing changed."""
        shown = job_view(api_url, token_value, job_id, picked, smoothing)
        if not force and shown.signature is not None and shown.signature == last_signature:
            return {}
        return {
            **_view_updates(panel, shown, picked, last_signature),
            **_plot_updates(panel, shown, last_series),
        }

    def _table(token_value, job_id, last_table=None, force=True) -> dict:
        return _table_updates(panel, api_url, token_value, job_id, last_table, force)

    def _tick(token_value, job_id, picked, smoothing, last_table, last_signature, last_series):
        updates = {
            **_table(token_value, job_id, last_table, force=False),
            **_view(token_value, job_id, picked, smoothing, last_signature, last_series, force=False),
        }
        return updates or gr.skip()

    def _new_job(token_value, job_id, _picked, smoothing, last_signature, last_series) -> dict:
        # another job: its method's default metrics, never the previous job's pick
        return _view(token_value, job_id, [], smoothing, last_signature, last_series)

    def _draw_pending(pending: dict | None):
        frames, x_range = (pending or {}).get("frames") or {}, (pending or {}).get("x_range")
        updates = {
            panel.plots[name]: _plot(frame, x_range) for name, frame in frames.items() if frame is not None
        }
        return updates or gr.skip()

    view_inputs = [
        token,
        panel.picker,
        panel.metric_picker,
        panel.smoothing,
        panel.signature,
        panel.shown_series,
    ]
    draw = {
        "fn": _draw_pending,
        "inputs": panel.pending,
        "outputs": list(panel.plots.values()),
        "show_progress": "hidden",
    }
    for trigger in (token.change, panel.refresh.click, tab.select):
        trigger(_table, inputs=[token, panel.picker], outputs=panel.table_outputs)
    panel.picker.change(_new_job, inputs=view_inputs, outputs=panel.view_outputs).then(**draw)
    panel.metric_picker.input(_view, inputs=view_inputs, outputs=panel.view_outputs).then(**draw)
    panel.smoothing.release(_view, inputs=view_inputs, outputs=panel.view_outputs).then(**draw)
    timer.tick(
        _tick,
        inputs=[
            token,
            panel.picker,
            panel.metric_picker,
            panel.smoothing,
            panel.table_signature,
            panel.signature,
            panel.shown_series,
        ],
        outputs=[*panel.table_outputs, *panel.view_outputs],
        show_progress="hidden",
        concurrency_limit=None,
    ).then(**draw)
    panel.table.select(_pick_row, outputs=panel.picker)
    _wire_actions(panel, api_url, token, view_inputs, _view, draw)
    return tab


def _wire_actions(panel: JobsPanel, api_url: str, token: gr.State, view_inputs, view, draw) -> None:
    """Pause and resume act at once; Cancel first asks, naming the job and its owner."""

    def _ask(token_value, job_id):
        return gr.Group(visible=True), cancel_question(api_url, token_value, job_id)

    def _act(action: str, token_value, job_id):
        return job_action(api_url, token_value, job_id, action=action), gr.Group(visible=False)

    panel.actions["cancel"].click(
        _ask, inputs=[token, panel.picker], outputs=[panel.confirm, panel.confirm_text]
    )
    panel.confirm_no.click(lambda: gr.Group(visible=False), outputs=panel.confirm)
    # A different job picked while the question shows: the question no longer holds.
    panel.picker.change(lambda: gr.Group(visible=False), outputs=panel.confirm)
    buttons = {
        "cancel": panel.confirm_yes,
        "pause": panel.actions["pause"],
        "resume": panel.actions["resume"],
    }
    for action, button in buttons.items():
        button.click(
            partial(_act, action), inputs=[token, panel.picker], outputs=[panel.action_result, panel.confirm]
        ).then(view, inputs=view_inputs, outputs=panel.view_outputs).then(**draw)
