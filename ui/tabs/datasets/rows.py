"""Datasets › Rows: the selected version's normalised rows, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ui.client import ApiError
from ui.tabs.common import client_for, error_md
from ui.tabs.datasets.shared import column_widths, rows_table

PREVIEW_PAGE = 20


def preview_rows(
    api_url: str, token: str, version_id: int | None, page: float | None
) -> tuple[str, pd.DataFrame]:
    """One page of a version's normalised rows as a table (conversations as 'role: text' lines)."""
    if not version_id:
        return "Pick a dataset version to preview its rows.", pd.DataFrame()
    page = max(1, int(page or 1))
    try:
        data = client_for(api_url, token).version_rows(
            int(version_id), offset=(page - 1) * PREVIEW_PAGE, limit=PREVIEW_PAGE
        )
    except ApiError as exc:
        return error_md(exc), pd.DataFrame()
    rows = data.get("rows", [])
    table = rows_table(rows)
    total = data.get("total", len(rows))
    pages = max(1, -(-total // PREVIEW_PAGE))
    first = (page - 1) * PREVIEW_PAGE + 1 if rows else 0
    return f"Rows {first}–{first + len(rows) - 1 if rows else 0} of {total} · page {page} of {pages}", table


# -- layout and wiring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowsPanel:
    info: gr.Markdown
    page: gr.Number
    table: gr.Dataframe


def build_rows() -> RowsPanel:
    with gr.Tab("Rows", id="ds-rows", elem_id="dataset-tab-rows"):
        with gr.Row(equal_height=True):
            info = gr.Markdown("", elem_id="dataset-preview-info")
            page = gr.Number(
                1,
                label="Page",
                precision=0,
                minimum=1,
                elem_id="dataset-page",
                scale=0,
                min_width=120,
            )
        table = gr.Dataframe(
            pd.DataFrame(),
            interactive=False,
            wrap=True,
            elem_id="dataset-preview",
            max_height=500,
            show_label=False,
            visible=False,
        )
    return RowsPanel(info, page, table)


def wire_rows(panel: RowsPanel, api_url: str, token: gr.State, version: gr.Dropdown) -> None:
    """A new version shows its first page; a page number shows that page."""

    def _show(token_value, version_id, page_number) -> dict:
        info, table = preview_rows(api_url, token_value, version_id, page_number)
        return {
            panel.info: info,
            panel.table: gr.Dataframe(
                table,
                visible=not table.empty,
                datatype="markdown",
                column_widths=column_widths(list(table.columns)) if not table.empty else None,
            ),
        }

    version.change(
        lambda t, v: {panel.page: 1, **_show(t, v, 1)},
        inputs=[token, version],
        outputs=[panel.page, panel.info, panel.table],
    )
    panel.page.submit(_show, inputs=[token, version, panel.page], outputs=[panel.info, panel.table])
