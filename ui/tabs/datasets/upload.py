"""Datasets › upload: send a file (validated by the server as a whole) and read its validation report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from ui.client import ApiError
from ui.tabs.common import client_for, error_md, human_bytes

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
        lines.append(
            [
                issue.get("severity", ""),
                issue.get("kind", "").replace("_", " "),
                issue.get("count", 0),
                rows,
                fields,
                issue.get("message", ""),
                preview,
            ]
        )
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
        raise ValueError(f'The {what} must be a JSON object, like {{"prompt": "question"}}.')  # noqa: TRY004
    return value


def _refused(file_path: str, exc: ApiError) -> tuple[str, pd.DataFrame, None]:
    report = exc.details if isinstance(exc.details, dict) and "errors" in exc.details else None
    if report is None:
        return error_md(exc), report_table(None), None
    errors = report.get("errors", [])
    kinds = sum(i.get("count", 0) for i in errors)
    summary = (
        f"### Refused: {Path(file_path).name}\n"
        f"{kinds} problem(s) of {len(errors)} kind(s) in {report.get('source_rows', 0)} rows read. "
        "Nothing was stored; fix the rows listed below and upload again."
    )
    return summary, report_table(report), None


def _stored(dataset: dict) -> tuple[str, pd.DataFrame, int]:
    version = dataset["versions"][-1]
    report = version.get("report") or {}
    detected = " (detected)" if report.get("format_detected") else ""
    warnings = report.get("warnings", [])
    summary = (
        f"### Stored: {dataset['name']} v{version['version']}\n"
        f"**{version['row_count']}** rows · format **{version['format']}**{detected} · "
        f"{human_bytes(version.get('size_bytes'))} · version id {version['id']}"
    )
    summary += (
        f"\n\n{len(warnings)} warning(s), listed below; the data was kept."
        if warnings
        else "\n\nNo problems found."
    )
    return summary, report_table(report), version["id"]


def upload_dataset(
    api_url: str,
    token: str,
    file_path: str | None,
    name: str,
    description: str,
    fmt: str,
    mapping_text: str,
    options_text: str,
) -> tuple[str, pd.DataFrame, int | None]:
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
            file_path,
            name=(name or "").strip() or None,
            description=description or "",
            format=fmt or None,
            mapping=mapping,
            options=options,
        )
    except ApiError as exc:
        return _refused(file_path, exc)
    return _stored(dataset)


# -- layout and wiring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadPanel:
    file: gr.File
    name: gr.Textbox
    description: gr.Textbox
    fmt: gr.Dropdown
    mapping: gr.Code
    options: gr.Code
    button: gr.Button
    summary: gr.Markdown
    report: gr.Dataframe


def _options_accordion() -> tuple[gr.Code, gr.Code]:
    with gr.Accordion("Column mapping and validation options", open=False):
        mapping = gr.Code(
            label="Column mapping (JSON: target field → your column)",
            language="json",
            lines=3,
            value="",
            elem_id="dataset-mapping",
        )
        gr.Markdown('e.g. `{"prompt": "question", "completion": "answer"}`')
        options = gr.Code(
            label="Validation options (JSON)",
            language="json",
            lines=2,
            value="",
            elem_id="dataset-options",
        )
        gr.Markdown('e.g. `{"max_chars": 20000}`')
    return mapping, options


def build_upload() -> UploadPanel:
    """The upload form on the left, the validation report on the right."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            gr.Markdown(
                "### Upload a dataset\nJSONL, JSON, CSV or Parquet (gzip too). The whole file is "
                "checked before anything is stored."
            )
            file = gr.File(
                label="File",
                file_types=[".jsonl", ".json", ".csv", ".parquet", ".gz"],
                elem_id="dataset-file",
                height=120,
            )
            name = gr.Textbox(label="Name", placeholder="Default: the file name", elem_id="dataset-name")
            description = gr.Textbox(label="Description", lines=2, elem_id="dataset-description")
            fmt = gr.Dropdown(
                FORMATS,
                value="",
                label="Format",
                elem_id="dataset-format",
                info="Leave on 'Detect' unless the columns are ambiguous.",
            )
            mapping, options = _options_accordion()
            button = gr.Button("Upload and validate", variant="primary", elem_id="dataset-upload")
        with gr.Column(scale=3, min_width=420):
            gr.Markdown("### Validation report")
            summary = gr.Markdown("Upload a file to see its report here.", elem_id="dataset-report-summary")
            report = gr.Dataframe(
                report_table(None),
                label="Problems found",
                interactive=False,
                wrap=True,
                elem_id="dataset-report",
                max_height=360,
                visible=False,
                column_widths=["9%", "14%", "8%", "10%", "12%", "30%", "17%"],
            )
    return UploadPanel(file, name, description, fmt, mapping, options, button, summary, report)


def wire_upload(panel: UploadPanel, api_url: str, token: gr.State, new_version: gr.State):
    """Upload on click, put the new version's id in `new_version`, then empty the file input.

    Returns the event, for the caller to chain a refresh of the list.
    """

    def _upload(*args):
        text, table, version_id = upload_dataset(api_url, *args)
        return {
            panel.summary: text,
            panel.report: gr.Dataframe(table, visible=not table.empty),
            new_version: version_id,
        }

    return panel.button.click(
        _upload,
        inputs=[token, panel.file, panel.name, panel.description, panel.fmt, panel.mapping, panel.options],
        outputs=[panel.summary, panel.report, new_version],
    ).then(
        lambda: None,
        outputs=panel.file,  # ready for the next file (a refused one must be fixed anyway)
    )
