"""Datasets tab: upload a file (validated by the server), read its report, list versions, preview rows."""

from __future__ import annotations

import html
import json
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from ui.client import ApiError
from ui.tabs.common import client_for, error_md, human_bytes, when

FORMATS = [
    ("Detect from the columns", ""),
    ("chat (messages)", "chat"),
    ("instruction (prompt / completion)", "instruction"),
    ("text (raw text)", "text"),
    ("preference (prompt / chosen / rejected)", "preference"),
    ("unpaired preference (KTO labels)", "unpaired_preference"),
    ("prompt only (RL prompts)", "prompt_only"),
]
REPORT_COLUMNS = ["Severity", "Problem", "Count", "Rows", "Fields", "What to do", "Example"]
LIST_COLUMNS = ["Dataset", "Version", "Version ID", "Format", "Rows", "Size", "Warnings", "Created"]
PREVIEW_PAGE = 20


# -- handlers (plain functions) -------------------------------------------------------------------------------


def report_table(report: dict | None) -> pd.DataFrame:
    """One line per issue kind of a validation report: errors first, then warnings."""
    lines = []
    for issue in (report or {}).get("errors", []) + (report or {}).get("warnings", []):
        examples = issue.get("examples") or []
        rows = ", ".join(str(e["row"]) for e in examples if e.get("row") is not None)
        if rows and issue.get("count", 0) > len(examples):
            rows += ", …"
        fields = ", ".join(sorted({e["field"] for e in examples if e.get("field")}))
        preview = next((e["preview"] for e in examples if e.get("preview")), "")
        lines.append([issue.get("severity", ""), issue.get("kind", "").replace("_", " "), issue.get("count", 0),
                      rows, fields, issue.get("message", ""), preview])
    return pd.DataFrame(lines, columns=REPORT_COLUMNS)


def _parse_json_object(text: str | None, what: str) -> dict | None:
    if not text or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"The {what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).")
    if not isinstance(value, dict):
        # ValueError, not TypeError: it is the user's text that is wrong, reported like a syntax error
        raise ValueError(f"The {what} must be a JSON object, like {{\"prompt\": \"question\"}}.")  # noqa: TRY004
    return value


def upload_dataset(api_url: str, token: str, file_path: str | None, name: str, description: str, fmt: str,
                   mapping_text: str, options_text: str) -> tuple[str, pd.DataFrame, int | None]:
    """Upload one file. Returns (summary markdown, report table, id of the new version or None)."""
    if not file_path:
        return "**Choose a file to upload first.**", report_table(None), None
    try:
        mapping = _parse_json_object(mapping_text, "column mapping")
        options = _parse_json_object(options_text, "validation options")
    except ValueError as exc:
        return f"**Error:** {exc}", report_table(None), None
    try:
        dataset = client_for(api_url, token).upload_dataset(
            file_path, name=(name or "").strip() or None, description=description or "", format=fmt or None,
            mapping=mapping, options=options)
    except ApiError as exc:
        report = exc.details if isinstance(exc.details, dict) and "errors" in exc.details else None
        if report is None:
            return error_md(exc), report_table(None), None
        errors = report.get("errors", [])
        kinds = sum(i.get("count", 0) for i in errors)
        summary = (f"### Refused: {Path(file_path).name}\n"
                   f"{kinds} problem(s) of {len(errors)} kind(s) in {report.get('source_rows', 0)} rows read. "
                   "Nothing was stored; fix the rows listed below and upload again.")
        return summary, report_table(report), None
    version = dataset["versions"][-1]
    report = version.get("report") or {}
    detected = " (detected)" if report.get("format_detected") else ""
    warnings = report.get("warnings", [])
    summary = (f"### Stored: {dataset['name']} v{version['version']}\n"
               f"**{version['row_count']}** rows · format **{version['format']}**{detected} · "
               f"{human_bytes(version.get('size_bytes'))} · version id {version['id']}")
    summary += (f"\n\n{len(warnings)} warning(s), listed below; the data was kept." if warnings
                else "\n\nNo problems found.")
    return summary, report_table(report), version["id"]


def _version_label(dataset: dict, version: dict) -> str:
    return f"{dataset['name']} v{version['version']} · {version['format']} · {version['row_count']} rows"


def list_datasets(api_url: str, token: str) -> tuple[pd.DataFrame, list[tuple[str, int]], str]:
    """(table of every dataset version, version choices for pickers, message)."""
    if not token:
        return pd.DataFrame([], columns=LIST_COLUMNS), [], ""
    try:
        datasets = client_for(api_url, token).list_datasets()
    except ApiError as exc:
        return pd.DataFrame([], columns=LIST_COLUMNS), [], error_md(exc)
    lines, choices = [], []
    for dataset in datasets:
        for version in sorted(dataset["versions"], key=lambda v: v["version"], reverse=True):
            warnings = sum(i.get("count", 0) for i in (version.get("report") or {}).get("warnings", []))
            lines.append([dataset["name"], f"v{version['version']}", version["id"], version["format"],
                          version["row_count"], human_bytes(version.get("size_bytes")), warnings,
                          when(version.get("created_at"))])
            choices.append((_version_label(dataset, version), version["id"]))
    message = "" if lines else "No datasets yet: upload one above."
    return pd.DataFrame(lines, columns=LIST_COLUMNS), choices, message


def _cell(value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return "<br>".join(f"**{html.escape(str(m['role']))}:** {html.escape(str(m.get('content', '')))}"
                           for m in value)
    if isinstance(value, dict | list):
        return html.escape(json.dumps(value, ensure_ascii=False))
    return "" if value is None else html.escape(str(value)).replace("\n", "<br>")


def preview_rows(api_url: str, token: str, version_id: int | None, page: float | None
                 ) -> tuple[str, pd.DataFrame]:
    """One page of a version's normalised rows as a table (conversations as 'role: text' lines)."""
    if not version_id:
        return "Pick a dataset version to preview its rows.", pd.DataFrame()
    page = max(1, int(page or 1))
    try:
        data = client_for(api_url, token).version_rows(int(version_id), offset=(page - 1) * PREVIEW_PAGE,
                                                       limit=PREVIEW_PAGE)
    except ApiError as exc:
        return error_md(exc), pd.DataFrame()
    rows = data.get("rows", [])
    columns = list(dict.fromkeys(k for row in rows for k in row))
    table = pd.DataFrame([[_cell(row.get(c)) for c in columns] for row in rows], columns=columns)
    total = data.get("total", len(rows))
    pages = max(1, -(-total // PREVIEW_PAGE))
    first = (page - 1) * PREVIEW_PAGE + 1 if rows else 0
    return f"Rows {first}–{first + len(rows) - 1 if rows else 0} of {total} · page {page} of {pages}", table


# -- layout and wiring ----------------------------------------------------------------------------------------


def build_datasets_tab(api_url: str, token: gr.State) -> gr.Tab:
    with gr.Tab("Datasets", id="datasets", elem_id="tab-datasets") as tab:
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                gr.Markdown("### Upload a dataset\nJSONL, JSON, CSV or Parquet (gzip too). The whole file is "
                            "checked before anything is stored.")
                file = gr.File(label="File", file_types=[".jsonl", ".json", ".csv", ".parquet", ".gz"],
                               elem_id="dataset-file", height=120)
                name = gr.Textbox(label="Name", placeholder="Default: the file name", elem_id="dataset-name")
                description = gr.Textbox(label="Description", lines=2, elem_id="dataset-description")
                fmt = gr.Dropdown(FORMATS, value="", label="Format", elem_id="dataset-format",
                                  info="Leave on 'Detect' unless the columns are ambiguous.")
                with gr.Accordion("Column mapping and validation options", open=False):
                    mapping = gr.Code(label="Column mapping (JSON: target field → your column)", language="json",
                                      lines=3, value="", elem_id="dataset-mapping")
                    gr.Markdown('e.g. `{"prompt": "question", "completion": "answer"}`')
                    options = gr.Code(label="Validation options (JSON)", language="json", lines=2, value="",
                                      elem_id="dataset-options")
                    gr.Markdown('e.g. `{"max_chars": 20000}`')
                upload = gr.Button("Upload and validate", variant="primary", elem_id="dataset-upload")
            with gr.Column(scale=3, min_width=420):
                gr.Markdown("### Validation report")
                summary = gr.Markdown("Upload a file to see its report here.", elem_id="dataset-report-summary")
                report = gr.Dataframe(report_table(None), label="Problems found", interactive=False, wrap=True,
                                      elem_id="dataset-report", max_height=360, visible=False,
                                      column_widths=["9%", "14%", "8%", "10%", "12%", "30%", "17%"])
        gr.Markdown("### Your datasets")
        with gr.Row():
            list_message = gr.Markdown("", elem_id="dataset-list-message")
            refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="dataset-refresh")
        listing = gr.Dataframe(pd.DataFrame([], columns=LIST_COLUMNS), interactive=False, elem_id="dataset-list",
                               max_height=300, show_label=False)
        gr.Markdown("### Preview rows")
        with gr.Row(equal_height=True):
            version = gr.Dropdown([], value=None, label="Dataset version", elem_id="dataset-version", scale=3)
            page = gr.Number(1, label="Page", precision=0, minimum=1, elem_id="dataset-page", scale=1)
        preview_info = gr.Markdown("", elem_id="dataset-preview-info")
        preview = gr.Dataframe(pd.DataFrame(), interactive=False, wrap=True, elem_id="dataset-preview",
                               max_height=500, show_label=False, visible=False)
        new_version = gr.State(None)  # inside the tab: anything placed directly in a gr.Tabs becomes a phantom tab

    def _refresh(token_value: str, selected: int | None = None):
        table, choices, message = list_datasets(api_url, token_value)
        ids = [vid for _, vid in choices]
        value = selected if selected in ids else (ids[0] if ids else None)
        return table, gr.Dropdown(choices=choices, value=value), message

    refresh_outputs = [listing, version, list_message]
    token.change(_refresh, inputs=token, outputs=refresh_outputs)
    tab.select(_refresh, inputs=[token, version], outputs=refresh_outputs)
    refresh.click(_refresh, inputs=[token, version], outputs=refresh_outputs)

    def _upload(*args):
        text, table, version_id = upload_dataset(api_url, *args)
        return text, gr.Dataframe(table, visible=not table.empty), version_id

    upload.click(_upload, inputs=[token, file, name, description, fmt, mapping, options],
                 outputs=[summary, report, new_version]
                 ).then(lambda: None, outputs=file  # ready for the next file (a refused one must be fixed anyway)
                 ).then(_refresh, inputs=[token, new_version], outputs=refresh_outputs)
    show = partial(preview_rows, api_url)
    def _show(token_value, version_id, page_number):
        info, table = show(token_value, version_id, page_number)
        return info, gr.Dataframe(table, visible=not table.empty, datatype="markdown")

    version.change(lambda t, v: (1, *_show(t, v, 1)), inputs=[token, version], outputs=[page, preview_info, preview])
    page.submit(_show, inputs=[token, version, page], outputs=[preview_info, preview])
    return tab
