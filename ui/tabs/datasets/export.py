"""Datasets › Export: the selected version's normalised rows as a JSONL or Parquet download."""

from __future__ import annotations

import html
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import gradio as gr

from ui.client import ApiError
from ui.tabs.common import client_for, error_md, human_bytes
from ui.tabs.datasets.shared import PICK_VERSION

EXPORT_KEEP_S = 3600  # exported files live this long in the temp folder (Gradio serves its own copy)


def _purge_old_exports(root: Path, keep_s: float = EXPORT_KEEP_S) -> None:
    now = time.time()
    for folder in root.glob("*"):
        try:
            if folder.is_dir() and now - folder.stat().st_mtime > keep_s:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def export_file(api_url: str, token: str, version_id: int | None, fmt: str) -> tuple[str | None, str]:
    """Download the version through the API (with the session's token); (local path for gr.File, message)."""
    if not version_id:
        return None, PICK_VERSION
    root = Path(tempfile.gettempdir()) / "afina-ui-exports"
    root.mkdir(exist_ok=True)
    _purge_old_exports(root)
    try:
        path = client_for(api_url, token).export_version(int(version_id), fmt, tempfile.mkdtemp(dir=root))
    except ApiError as exc:
        return None, error_md(exc)
    message = f"Ready: **{html.escape(path.name)}** ({human_bytes(path.stat().st_size)}). Download it below."
    return str(path), message


# -- layout and wiring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportPanel:
    fmt: gr.Radio
    run: gr.Button
    message: gr.Markdown
    file: gr.File

    @property
    def outputs(self) -> list:
        return [self.file, self.message]


def build_export() -> ExportPanel:
    with gr.Tab("Export", id="ds-export", elem_id="dataset-tab-export"):
        with gr.Row(equal_height=True):
            fmt = gr.Radio(
                [("JSONL", "jsonl"), ("Parquet", "parquet")],
                value="jsonl",
                label="Format",
                elem_id="dataset-export-format",
                scale=1,
            )
            run = gr.Button(
                "Prepare download", variant="primary", scale=0, min_width=180, elem_id="dataset-export-run"
            )
        message = gr.Markdown(
            "The normalised rows of the selected version; `datasets.load_dataset` reads either format back.",
            elem_id="dataset-export-message",
        )
        file = gr.File(label="Download", interactive=False, elem_id="dataset-export-file", height=80)
    return ExportPanel(fmt, run, message, file)


def cleared_export(panel: ExportPanel) -> dict:
    """Updates that drop a prepared download (it belonged to another version)."""
    return {panel.file: None, panel.message: ""}


def wire_export(panel: ExportPanel, api_url: str, token: gr.State, version: gr.Dropdown) -> None:
    panel.run.click(
        partial(export_file, api_url), inputs=[token, version, panel.fmt], outputs=[panel.file, panel.message]
    )
