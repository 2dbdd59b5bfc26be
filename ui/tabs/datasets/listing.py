"""Datasets › your datasets: every stored version in a table, and the version picker the tools below use."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ui.client import ApiError
from ui.tabs.common import client_for, error_md, human_bytes, when

LIST_COLUMNS = ["Dataset", "Version", "Version ID", "Format", "Rows", "Size", "Warnings", "Shared", "Created"]


def _version_label(dataset: dict, version: dict) -> str:
    return f"{dataset['name']} v{version['version']} · {version['format']} · {version['row_count']} rows"


def _list_line(dataset: dict, version: dict) -> list:
    warnings = sum(i.get("count", 0) for i in (version.get("report") or {}).get("warnings", []))
    return [
        dataset["name"],
        f"v{version['version']}",
        version["id"],
        version["format"],
        version["row_count"],
        human_bytes(version.get("size_bytes")),
        warnings,
        "yes" if dataset.get("visibility") == "shared" else "no",
        when(version.get("created_at")),
    ]


def list_datasets(api_url: str, token: str) -> tuple[pd.DataFrame, list[tuple[str, int]], str]:
    """(table of every dataset version you may see, version choices for pickers, message)."""
    if not token:
        return pd.DataFrame([], columns=LIST_COLUMNS), [], ""
    try:
        datasets = client_for(api_url, token).list_datasets()
    except ApiError as exc:
        return pd.DataFrame([], columns=LIST_COLUMNS), [], error_md(exc)
    lines, choices = [], []
    for dataset in datasets:
        for version in sorted(dataset["versions"], key=lambda v: v["version"], reverse=True):
            lines.append(_list_line(dataset, version))
            choices.append((_version_label(dataset, version), version["id"]))
    message = "" if lines else "No datasets yet: upload one above."
    return pd.DataFrame(lines, columns=LIST_COLUMNS), choices, message


# -- layout and wiring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingPanel:
    message: gr.Markdown
    refresh: gr.Button
    table: gr.Dataframe
    version: gr.Dropdown

    @property
    def outputs(self) -> list:
        """What a reload of the list updates."""
        return [self.table, self.version, self.message]


def build_listing() -> ListingPanel:
    gr.Markdown("### Your datasets")
    with gr.Row():
        message = gr.Markdown("", elem_id="dataset-list-message")
        refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="dataset-refresh")
    table = gr.Dataframe(
        pd.DataFrame([], columns=LIST_COLUMNS),
        interactive=False,
        elem_id="dataset-list",
        max_height=300,
        show_label=False,
    )
    gr.Markdown("### Work with a version")
    version = gr.Dropdown(
        [],
        value=None,
        label="Dataset version",
        elem_id="dataset-version",
        info="Every tool below works on this version; a cleaning step selects its result.",
    )
    return ListingPanel(message, refresh, table, version)


def reload_listing(
    panel: ListingPanel, api_url: str, token: str, selected: int | None = None, current: int | None = None
) -> dict:
    """Reload the list; select `selected` (a new version) if given, else keep `current`, else the first."""
    table, choices, message = list_datasets(api_url, token)
    ids = [vid for _, vid in choices]
    value = next((v for v in (selected, current) if v in ids), ids[0] if ids else None)
    return {
        panel.table: table,
        panel.version: gr.Dropdown(choices=choices, value=value),
        panel.message: message,
    }
