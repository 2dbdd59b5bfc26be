"""Jobs › layout: the components of the Jobs tab, by name (JobsPanel); no events here."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ui.tabs.jobs.metrics import MIN_STEP_SPAN
from ui.tabs.jobs.view import EVENT_COLUMNS, NO_JOB, TABLE_COLUMNS, checkpoints_table, progress_html


@dataclass(frozen=True)
class JobsPanel:
    note: gr.Markdown
    refresh: gr.Button
    table: gr.Dataframe
    picker: gr.Dropdown
    actions: dict[str, gr.Button]  # by action name: cancel, pause, resume
    confirm: gr.Group  # Cancel asks first: the question, then confirm or keep
    confirm_text: gr.Markdown
    confirm_yes: gr.Button
    confirm_no: gr.Button
    action_result: gr.Markdown
    status: gr.Markdown
    error: gr.HTML
    progress: gr.HTML
    warning: gr.Markdown
    plots: dict[str, gr.LinePlot]  # by part of JobView.plots: loss, lr, extra
    metric_picker: gr.Dropdown
    smoothing: gr.Slider
    checkpoints: gr.Dataframe
    events: gr.Dataframe
    # What the page shows now, so a tick that finds nothing new sends nothing (no flicker).
    signature: gr.State
    table_signature: gr.State
    # Gradio 6's LinePlot keeps the colours of the series it first drew: a series that appears later
    # (eval_loss) stays invisible. So when the set of series changes, the plot is cleared in one step and
    # drawn in the next (`pending` carries the data between the two).
    shown_series: gr.State
    pending: gr.State

    @property
    def table_outputs(self) -> list:
        return [self.table, self.picker, self.note, self.table_signature]

    @property
    def view_outputs(self) -> list:
        """Everything a new view of the chosen job may update."""
        return [
            self.status,
            self.error,
            self.progress,
            self.warning,
            *self.plots.values(),
            self.metric_picker,
            self.events,
            self.checkpoints,
            *self.actions.values(),
            self.signature,
            self.shown_series,
            self.pending,
        ]


def _line_plot(
    title: str, y_title: str, elem_id: str, *, height: int, y_format: str = ",~g", **layout
) -> gr.LinePlot:
    """Steps as whole numbers (x_lim keeps the span wide enough, see metrics.step_range), values readable."""
    return gr.LinePlot(
        None,
        x="step",
        y="value",
        color="metric",
        title=title,
        x_title="Step",
        y_title=y_title,
        height=height,
        elem_id=elem_id,
        show_label=False,
        x_axis_format="d",
        y_axis_format=y_format,
        x_lim=[0, MIN_STEP_SPAN],
        **layout,
    )


def _job_list() -> dict:
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
            [], value=None, label="Job", elem_id="jobs-select", scale=3, info="Or click a row of the table."
        )
        actions = {
            "cancel": gr.Button("Cancel", variant="stop", interactive=False, elem_id="jobs-cancel", scale=0),
            "pause": gr.Button("Pause", interactive=False, elem_id="jobs-pause", scale=0),
            "resume": gr.Button("Resume", interactive=False, elem_id="jobs-resume", scale=0),
        }
    with gr.Group(visible=False, elem_id="jobs-cancel-confirm") as confirm:
        confirm_text = gr.Markdown("", elem_id="jobs-cancel-question")
        with gr.Row():
            confirm_yes = gr.Button("Yes, cancel it", variant="stop", size="sm", elem_id="jobs-cancel-yes")
            confirm_no = gr.Button("No, keep it", size="sm", elem_id="jobs-cancel-no")
    return {
        "note": note,
        "refresh": refresh,
        "table": table,
        "picker": picker,
        "actions": actions,
        "confirm": confirm,
        "confirm_text": confirm_text,
        "confirm_yes": confirm_yes,
        "confirm_no": confirm_no,
    }


def _charts() -> dict:
    with gr.Row():
        loss = _line_plot("Loss", "Loss", "jobs-loss-plot", height=320, scale=3, color_title="Metric")
        lr = _line_plot("Learning rate", "LR", "jobs-lr-plot", height=320, scale=2, y_format=".1e")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            extra = _line_plot(
                "Method metrics", "Value", "jobs-metric-plot", height=300, color_title="Metric"
            )
        with gr.Column(scale=2, min_width=300):
            metric_picker = gr.Dropdown(
                [],
                value=[],
                multiselect=True,
                label="Metrics to plot",
                info="Whatever this job reports: rewards, KL, gradient norm, tokens/s, memory...",
                elem_id="jobs-metric",
                # A tick can carry the previous job's pick after the choices changed: the server keeps only
                # what the job has (metrics.picked_metrics) instead of Gradio refusing the value.
                allow_custom_value=True,
            )
            smoothing = gr.Slider(
                0.0,
                0.99,
                value=0.0,
                step=0.01,
                label="Smoothing",
                info="Adds a smoothed curve (moving average) to the loss and method metrics; 0 = off.",
                elem_id="jobs-smoothing",
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
    plots = {"loss": loss, "lr": lr, "extra": extra}
    return {
        "plots": plots,
        "metric_picker": metric_picker,
        "smoothing": smoothing,
        "checkpoints": checkpoints,
    }


def build_jobs_layout() -> JobsPanel:
    """The tab's components, laid out in order; call inside the gr.Tab."""
    job_list = _job_list()
    action_result = gr.Markdown("", elem_id="jobs-action-result")
    status = gr.Markdown(NO_JOB, elem_id="jobs-status")
    error = gr.HTML("", elem_id="jobs-error")
    progress = gr.HTML(progress_html(0, ""), elem_id="jobs-progress")
    warning = gr.Markdown("", elem_id="jobs-warning")
    charts = _charts()
    events = gr.Dataframe(
        pd.DataFrame([], columns=EVENT_COLUMNS),
        label="Log: the job's events, newest first (live)",
        interactive=False,
        wrap=True,
        max_height=300,
        elem_id="jobs-events",
    )
    # States inside the tab: anything placed directly in a gr.Tabs becomes a phantom tab.
    return JobsPanel(
        **job_list,
        action_result=action_result,
        status=status,
        error=error,
        progress=progress,
        warning=warning,
        **charts,
        events=events,
        signature=gr.State(None),
        table_signature=gr.State(None),
        shown_series=gr.State({}),
        pending=gr.State(None),
    )
