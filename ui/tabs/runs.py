"""Runs tab: several jobs side by side — one metric's curves overlaid (smoothed if asked), the settings that
differ between them, and the evaluations that scored their models."""

from __future__ import annotations

import html

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from ui.client import ApiError
from ui.tabs.common import client_for, error_md

MAX_RUNS = 8


# -- handlers (plain functions) ------------------------------------------------------------------------------


def job_choices(api_url: str, token: str) -> tuple[list, str]:
    if not token:
        return [], ""
    try:
        items = client_for(api_url, token).list_jobs(limit=200)["items"]
    except ApiError as exc:
        return [], error_md(exc)
    return [(f"#{j['id']} {j['name']} · {j['method']} · {j['status']}", j["id"]) for j in items], ""


def smooth(values: list[float], weight: float) -> list[float]:
    """Exponential moving average, debiased as TensorBoard's smoothing is, so the first points are not pulled
    toward zero; weight 0 returns the values unchanged."""
    out, average = [], 0.0
    for i, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        out.append(average / (1 - weight**i) if weight else value)
    return out


def curves_figure(comparison: dict, metric: str, weight: float) -> go.Figure:
    figure = go.Figure()
    names = {job["id"]: f"#{job['id']} {job['name']}" for job in comparison.get("jobs", [])}
    for job_id, metrics in comparison.get("metrics", {}).items():
        points = metrics.get(metric) or []
        if not points:
            continue
        steps = [int(step) for step, _ in points]
        figure.add_scatter(
            x=steps,
            y=smooth([v for _, v in points], weight),
            mode="lines",
            name=names.get(int(job_id), f"#{job_id}"),
        )
    figure.update_layout(
        title=f"{metric} by step",
        xaxis={"title": "step", "tickformat": "d"},
        yaxis={"title": metric, "tickformat": ".3~g"},
        height=400,
        margin={"t": 50},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def diff_frame(comparison: dict) -> pd.DataFrame:
    names = {str(job["id"]): f"#{job['id']}" for job in comparison.get("jobs", [])}
    records = []
    for row in comparison.get("config_diff", []):
        record = {"setting": row["setting"]}
        for job_id, value in row["values"].items():
            record[names.get(str(job_id), f"#{job_id}")] = "–" if value is None else str(value)
        records.append(record)
    return pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=["setting"])


def evaluations_frame(comparison: dict) -> pd.DataFrame:
    rows = [
        {
            "job": f"#{e['job_id']}",
            "evaluation": f"#{e['evaluation_id']} {e['evaluation']}",
            "metric": e["metric"],
            "mean": round(e["mean"], 4),
            "95 % interval": f"[{e['low']:.3f}, {e['high']:.3f}]",
        }
        for e in comparison.get("evaluations", [])
    ]
    return pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=["job", "evaluation", "metric"])


def compare(api_url: str, token: str, job_ids: list[int] | None, metric: str | None, weight: float):
    """(message, metric choices, metric, figure, diff table, evaluations table)."""
    ids = [int(j) for j in job_ids or []]
    if len(ids) < 1:
        return "Pick one or more jobs.", [], None, go.Figure(), diff_frame({}), evaluations_frame({})
    if len(ids) > MAX_RUNS:
        return (
            f"**At most {MAX_RUNS} runs at once.**",
            [],
            None,
            go.Figure(),
            diff_frame({}),
            evaluations_frame({}),
        )
    try:
        comparison = client_for(api_url, token).compare_runs(ids)
    except ApiError as exc:
        return error_md(exc), [], None, go.Figure(), diff_frame({}), evaluations_frame({})
    names = sorted({name for metrics in comparison["metrics"].values() for name in metrics})
    chosen = metric if metric in names else ("loss" if "loss" in names else (names[0] if names else None))
    message = f"{len(ids)} runs · {len(comparison['config_diff'])} settings differ"
    if not names:
        message += " · no metrics recorded yet"
    figure = curves_figure(comparison, chosen, weight) if chosen else go.Figure()
    return html.escape(message), names, chosen, figure, diff_frame(comparison), evaluations_frame(comparison)


# -- layout and wiring ---------------------------------------------------------------------------------------


def build_runs_tab(api_url: str, token: gr.State) -> gr.Tab:
    with gr.Tab("Runs", id="runs", elem_id="tab-runs") as tab:
        with gr.Row():
            picked = gr.Dropdown(
                [],
                multiselect=True,
                label=f"Jobs to compare (up to {MAX_RUNS})",
                elem_id="runs-jobs",
                scale=4,
            )
            refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="runs-refresh")
        with gr.Row():
            metric = gr.Dropdown([], label="Metric", elem_id="runs-metric", scale=2)
            weight = gr.Slider(
                0, 0.95, value=0.0, step=0.05, label="Smoothing", elem_id="runs-smoothing", scale=2
            )
        message = gr.Markdown("", elem_id="runs-message")
        plot = gr.Plot(label="Curves", elem_id="runs-plot")
        gr.Markdown("**Settings that differ**")
        diff = gr.Dataframe(interactive=False, wrap=True, elem_id="runs-diff")
        gr.Markdown("**Evaluations of their models**")
        evals = gr.Dataframe(interactive=False, wrap=True, elem_id="runs-evaluations")

        def _choices(token_value):
            found, note = job_choices(api_url, token_value)
            return gr.Dropdown(choices=found), note

        refresh.click(_choices, inputs=token, outputs=[picked, message])
        tab.select(_choices, inputs=token, outputs=[picked, message])

        def _compare(token_value, ids, metric_value, weight_value):
            note, names, chosen, figure, diff_table, eval_table = compare(
                api_url, token_value, ids, metric_value, weight_value
            )
            return note, gr.Dropdown(choices=names, value=chosen), figure, diff_table, eval_table

        outputs = [message, metric, plot, diff, evals]
        for event in (picked.change, metric.input, weight.release):
            event(_compare, inputs=[token, picked, metric, weight], outputs=outputs)
    return tab
