"""Datasets › Clean & split: exact or near dedup, a length filter, a train / validation split; each step makes
new version(s) and says what it removed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from ui.client import ApiError
from ui.tabs.common import client_for, error_md
from ui.tabs.datasets.shared import PICK_VERSION
from ui.tabs.datasets.versions import describe_operation

REMOVED_COLUMNS = ["Row", "Reason", "Row content"]
OPERATIONS = [
    ("Exact dedup", "dedup_exact"),
    ("Near dedup", "dedup_near"),
    ("Length filter", "filter_length"),
    ("Train / validation split", "split"),
]


def operation_body(
    op: str,
    threshold: float | None = None,
    min_chars: float | None = None,
    max_chars: float | None = None,
    val_fraction: float | None = None,
    seed: float | None = None,
) -> dict:
    """The JSON of POST .../operations: only the parameters the chosen step reads (the server has
    defaults)."""
    body: dict[str, Any] = {"op": op}
    if op == "dedup_near" and threshold is not None:
        body["threshold"] = float(threshold)
    if op == "filter_length":
        body["min_chars"] = int(min_chars or 0)
        if max_chars:
            body["max_chars"] = int(max_chars)
    if op == "split":
        if val_fraction is not None:
            body["val_fraction"] = float(val_fraction)
        body["seed"] = int(seed or 0)
    return body


def removed_table(stats: dict | None) -> pd.DataFrame:
    """The examples an operation gives of what it removed and why."""
    return pd.DataFrame(
        [
            [e.get("row"), e.get("reason", ""), e.get("preview", "")]
            for e in (stats or {}).get("examples") or []
        ],
        columns=REMOVED_COLUMNS,
    )


def _made_md(op: str, created: list[dict], stats: dict) -> str:
    made = " and ".join(
        f"**v{v['version']}**"
        + (f" ({v['split']})" if v.get("split") else "")
        + f" with {v['row_count']} rows"
        for v in created
    )
    how = describe_operation(created[0].get("operation"))
    lines = [f"### Made {made}", f"{how[:1].upper()}{how[1:]} · {stats.get('rows_in', '?')} rows in."]
    if op != "split":
        shown = len(stats.get("examples") or [])
        lines.append(
            f"{stats.get('removed', 0)} row(s) removed"
            + (f"; the first {shown} are listed below." if shown else ".")
        )
    lines.append("The new version is now selected; the parent is unchanged.")
    return "\n\n".join(lines)


def run_operation(
    api_url: str,
    token: str,
    version_id: int | None,
    op: str,
    threshold: float | None = None,
    min_chars: float | None = None,
    max_chars: float | None = None,
    val_fraction: float | None = None,
    seed: float | None = None,
) -> tuple[str, pd.DataFrame, list[int]]:
    """Apply one cleaning or split step.

    Returns (summary markdown, removed-rows table, ids of the new versions).
    """
    if not version_id:
        return PICK_VERSION, removed_table(None), []
    if op == "filter_length" and max_chars and int(max_chars) < int(min_chars or 0):
        return (
            "**Error:** the longest row kept (max chars) is shorter than the shortest (min chars).",
            removed_table(None),
            [],
        )
    try:
        created = client_for(api_url, token).apply_operation(
            int(version_id), operation_body(op, threshold, min_chars, max_chars, val_fraction, seed)
        )
    except ApiError as exc:
        return error_md(exc), removed_table(None), []
    stats = (created[0].get("operation") or {}).get("stats") or {}
    return _made_md(op, created, stats), removed_table(stats), [v["id"] for v in created]


# -- layout and wiring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanPanel:
    op: gr.Radio
    near_params: gr.Group
    threshold: gr.Slider
    length_params: gr.Row
    min_chars: gr.Number
    max_chars: gr.Number
    split_params: gr.Row
    val_fraction: gr.Slider
    seed: gr.Number
    apply: gr.Button
    result: gr.Markdown
    removed: gr.Dataframe


def _step_parameters() -> dict[str, Any]:
    """The parameters of each step, each group shown only while its step is chosen."""
    with gr.Group(visible=False) as near_params:
        threshold = gr.Slider(
            0.5,
            1.0,
            value=0.9,
            step=0.01,
            label="Similarity threshold",
            info="MinHash Jaccard similarity at which two rows count as duplicates.",
            elem_id="dataset-op-threshold",
        )
    with gr.Row(visible=False) as length_params:
        min_chars = gr.Number(0, label="Min chars", precision=0, minimum=0, elem_id="dataset-op-min-chars")
        max_chars = gr.Number(
            None,
            label="Max chars",
            precision=0,
            minimum=1,
            placeholder="no limit",
            elem_id="dataset-op-max-chars",
        )
    with gr.Row(visible=False) as split_params:
        val_fraction = gr.Slider(
            0.01, 0.5, value=0.1, step=0.01, label="Validation share", elem_id="dataset-op-val-fraction"
        )
        seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="dataset-op-seed")
    return {
        "near_params": near_params,
        "threshold": threshold,
        "length_params": length_params,
        "min_chars": min_chars,
        "max_chars": max_chars,
        "split_params": split_params,
        "val_fraction": val_fraction,
        "seed": seed,
    }


def build_clean() -> CleanPanel:
    with (
        gr.Tab("Clean & split", id="ds-clean", elem_id="dataset-tab-clean"),
        gr.Row(equal_height=False),
    ):
        with gr.Column(scale=2, min_width=320):
            op = gr.Radio(
                OPERATIONS,
                value="dedup_exact",
                label="Step",
                elem_id="dataset-op",
                info="Each step makes new version(s); the selected one is never changed.",
            )
            parameters = _step_parameters()
            apply = gr.Button("Apply", variant="primary", elem_id="dataset-op-apply")
        with gr.Column(scale=3, min_width=420):
            result = gr.Markdown(
                "Pick a step and press **Apply**: the result and what was removed show here.",
                elem_id="dataset-op-result",
            )
            removed = gr.Dataframe(
                removed_table(None),
                label="Removed rows (examples)",
                interactive=False,
                wrap=True,
                elem_id="dataset-op-removed",
                max_height=320,
                visible=False,
                column_widths=["8%", "30%", "62%"],
            )
    return CleanPanel(op=op, apply=apply, result=result, removed=removed, **parameters)


def wire_clean(panel: CleanPanel, api_url: str, token: gr.State, version: gr.Dropdown, new_version: gr.State):
    """Show the chosen step's parameters; Apply runs it and puts the first new version's id in `new_version`.
    Returns the Apply event, for the caller to chain a refresh of the list."""

    def _op_params(chosen: str) -> dict:
        return {
            panel.near_params: gr.Group(visible=chosen == "dedup_near"),
            panel.length_params: gr.Row(visible=chosen == "filter_length"),
            panel.split_params: gr.Row(visible=chosen == "split"),
        }

    panel.op.change(
        _op_params, inputs=panel.op, outputs=[panel.near_params, panel.length_params, panel.split_params]
    )

    def _apply(token_value, version_id, *params) -> dict:
        text, table, created = run_operation(api_url, token_value, version_id, *params)
        return {
            panel.result: text,
            panel.removed: gr.Dataframe(table, visible=not table.empty),
            new_version: created[0] if created else None,
        }

    step = [panel.op, panel.threshold, panel.min_chars, panel.max_chars, panel.val_fraction, panel.seed]
    return panel.apply.click(
        _apply, inputs=[token, version, *step], outputs=[panel.result, panel.removed, new_version]
    )
