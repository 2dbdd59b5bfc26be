"""Datasets › Versions & lineage: every version of the selected dataset, what each was made from and how."""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ui.tabs.common import when

VERSION_COLUMNS = ["Version", "ID", "Split", "Format", "Rows", "Made from", "How it was made", "Created"]
NO_VERSION = "Pick a dataset version to see how it was made."


def _removed(operation: dict) -> int:
    return int((operation.get("stats") or {}).get("removed") or 0)


def describe_operation(operation: dict | None) -> str:
    """How a version was made, in words: 'upload of chat.jsonl', 'exact dedup: 3 rows removed', ..."""
    operation = operation or {}
    op, params = operation.get("op", ""), operation.get("params") or {}
    if op == "upload":
        return f"upload of {operation.get('filename') or 'a file'}"
    if op == "dedup_exact":
        return f"exact dedup: {_removed(operation)} rows removed"
    if op == "dedup_near":
        return (
            f"near dedup (similarity ≥ {params.get('threshold', 0.9):g}): {_removed(operation)} rows removed"
        )
    if op == "filter_length":
        top = params.get("max_chars")
        return (
            f"length filter ({params.get('min_chars', 0)}–{'∞' if top is None else top} chars): "
            f"{_removed(operation)} rows removed"
        )
    if op == "split":
        return f"split: {params.get('val_fraction', 0.1):.0%} to validation, seed {params.get('seed', 0)}"
    return op.replace("_", " ") or "—"


def versions_table(dataset: dict | None, selected_id: int | None = None) -> pd.DataFrame:
    """Every version of a dataset, newest first, with its parent and the step that made it (the lineage)."""
    versions = sorted((dataset or {}).get("versions", []), key=lambda v: v["version"], reverse=True)
    numbers = {v["id"]: v["version"] for v in versions}
    lines = [
        [
            ("▶ " if v["id"] == selected_id else "") + f"v{v['version']}",
            v["id"],
            v.get("split") or "—",
            v["format"],
            v["row_count"],
            f"v{numbers[v['parent_id']]}" if v.get("parent_id") in numbers else "—",
            describe_operation(v.get("operation")),
            when(v.get("created_at")),
        ]
        for v in versions
    ]
    return pd.DataFrame(lines, columns=VERSION_COLUMNS)


def lineage_md(version: dict | None, dataset: dict | None) -> str:
    if not version or not dataset:
        return NO_VERSION
    numbers = {v["id"]: v for v in dataset["versions"]}
    chain, current = [], version
    while current is not None:
        chain.append(current)
        current = numbers.get(current.get("parent_id"))
    steps = " → ".join(
        f"**v{v['version']}**"
        + ("" if v.get("parent_id") is None else f" ({describe_operation(v.get('operation'))})")
        for v in reversed(chain)
    )
    return (
        f"**{html.escape(dataset['name'])}** has {len(dataset['versions'])} version(s). "
        f"The selected v{version['version']} came from: {steps}"
    )


# -- layout and wiring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionsPanel:
    lineage: gr.Markdown
    table: gr.Dataframe

    @property
    def outputs(self) -> list:
        return [self.lineage, self.table]


def build_versions() -> VersionsPanel:
    with gr.Tab("Versions & lineage", id="ds-versions", elem_id="dataset-tab-versions"):
        lineage = gr.Markdown(NO_VERSION, elem_id="dataset-lineage")
        table = gr.Dataframe(
            versions_table(None),
            interactive=False,
            wrap=True,
            show_label=False,
            elem_id="dataset-versions",
            max_height=360,
            column_widths=["9%", "6%", "9%", "9%", "7%", "9%", "36%", "15%"],
        )
    return VersionsPanel(lineage, table)


def show_versions(
    panel: VersionsPanel, version: dict | None, dataset: dict | None, version_id: int | None, message: str
) -> dict:
    """The selected version's lineage and its dataset's versions (or the message saying why not)."""
    return {
        panel.lineage: message or lineage_md(version, dataset),
        panel.table: versions_table(dataset, version_id),
    }
