"""Datasets › Token profile: how many tokens each row takes under a model's tokenizer and template, and how
many rows a max length would cut."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from ui.client import ApiError
from ui.tabs.common import client_for, error_md
from ui.tabs.datasets.shared import PICK_VERSION, TEMPLATES, request_failed, rows_table

HISTOGRAM_COLUMNS = ["tokens", "rows"]
NO_PROFILE = (
    "No token profile yet for this version: pick a model (its tokenizer counts the tokens) and "
    "press **Compute profile**."
)


def histogram_frame(profile: dict | None) -> pd.DataFrame:
    """The token-length histogram as bars: one per bin, labelled with its token range ("16–23").

    Labels, not numbers the plot bins itself: Gradio 6.31 swaps the data of a drawn plot but rebuilds its spec
    in a race when the bin width changes, which left the axis "NaN to NaN" until the tab was shown again.
    Labels are padded with leading spaces to one width, so the plot's alphabetical order is numeric order."""
    bins = (profile or {}).get("histogram") or []
    labels = [f"{int(b['from']):,}–{int(b.get('to', b['from'] + 1)) - 1:,}" for b in bins]
    wide = max((len(label) for label in labels), default=0)
    frame = pd.DataFrame(
        [[label.rjust(wide), int(b["rows"])] for label, b in zip(labels, bins)], columns=HISTOGRAM_COLUMNS
    )
    return frame.astype({"tokens": "str", "rows": "int64"})


def _summary_md(profile: dict) -> str:
    over = float(profile.get("share_over_max_length") or 0.0)
    limit = profile.get("max_length")
    lines = [
        " · ".join(
            [
                f"**{profile.get('row_count', 0)}** rows",
                f"mean **{profile.get('tokens_mean', 0):.1f}** tokens",
                f"p50 **{profile.get('tokens_p50', 0)}**",
                f"p95 **{profile.get('tokens_p95', 0)}**",
                f"max **{profile.get('tokens_max', 0)}**",
                f"**{over:.1%}** over max length {limit}",
            ]
        )
    ]
    if over > 0:
        rows = round(over * (profile.get("row_count") or 0))
        lines.append(
            f"<span style='color:#b45309'>**Warning: {rows} row(s) ({over:.1%}) are longer than {limit} "
            "tokens**</span> and will be cut at that length in training. Raise the job's max length, or "
            "drop them with the length filter (Clean & split)."
        )
    else:
        lines.append(f"<span style='color:#15803d'>Every row fits in {limit} tokens.</span>")
    tokenizer = profile.get("tokenizer")
    if tokenizer:
        lines.append(f"<small>Tokenizer: {html.escape(Path(str(tokenizer)).name)}</small>")
    return "\n\n".join(lines)


def profile_view(profile: dict | None) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """(summary markdown, histogram frame, sample rows table) of a stored or fresh profile."""
    if not profile:
        return NO_PROFILE, histogram_frame(None), pd.DataFrame()
    return _summary_md(profile), histogram_frame(profile), rows_table(profile.get("samples") or [])


def compute_profile(
    api_url: str,
    token: str,
    version_id: int | None,
    model_id: int | None,
    max_length: float | None,
    chat_template: str,
) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    if not version_id:
        return PICK_VERSION, histogram_frame(None), pd.DataFrame()
    if not model_id:
        return "**Pick a model: its tokenizer counts the tokens.**", histogram_frame(None), pd.DataFrame()
    body = {"model_id": int(model_id), "max_length": int(max_length or 1024), "chat_template": chat_template}
    try:
        request = client_for(api_url, token).profile_version(int(version_id), body)
    except ApiError as exc:
        return error_md(exc), histogram_frame(None), pd.DataFrame()
    problem = request_failed(request, "profile")
    if problem:
        return problem, histogram_frame(None), pd.DataFrame()
    return profile_view(request["result"])


# -- layout and wiring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfilePanel:
    model: gr.Dropdown
    template: gr.Dropdown
    max_length: gr.Number
    run: gr.Button
    summary: gr.Markdown
    histogram: gr.BarPlot
    samples: gr.Dataframe

    @property
    def outputs(self) -> list:
        """What showing a profile updates."""
        return [self.summary, self.histogram, self.samples]


def _controls() -> tuple[gr.Dropdown, gr.Dropdown, gr.Number, gr.Button]:
    with gr.Row(equal_height=True):
        model = gr.Dropdown(
            [], value=None, label="Tokenizer of model", elem_id="dataset-profile-model", scale=2
        )
        template = gr.Dropdown(
            TEMPLATES, value="model", label="Chat template", elem_id="dataset-profile-template", scale=1
        )
        max_length = gr.Number(
            1024,
            label="Max length (tokens)",
            precision=0,
            minimum=16,
            elem_id="dataset-profile-max-length",
            scale=1,
        )
        run = gr.Button(
            "Compute profile", variant="primary", scale=0, min_width=160, elem_id="dataset-profile-run"
        )
    return model, template, max_length, run


def build_profile() -> ProfilePanel:
    with gr.Tab("Token profile", id="ds-profile", elem_id="dataset-tab-profile"):
        model, template, max_length, run = _controls()
        summary = gr.Markdown(NO_PROFILE, elem_id="dataset-profile-summary")
        histogram = gr.BarPlot(
            histogram_frame(None),
            x="tokens",
            y="rows",
            title="Token length per row",
            x_title="Tokens per row",
            y_title="Rows",
            height=280,
            show_label=False,
            elem_id="dataset-profile-histogram",
            x_label_angle=-40,
            y_axis_format=",d",
            y_lim=[0, 6],
        )
        samples = gr.Dataframe(
            pd.DataFrame(),
            label="Sample rows",
            interactive=False,
            wrap=True,
            elem_id="dataset-profile-samples",
            max_height=300,
            visible=False,
        )
    return ProfilePanel(model, template, max_length, run, summary, histogram, samples)


def show_profile(panel: ProfilePanel, text: str, frame: pd.DataFrame, table: pd.DataFrame) -> dict:
    """Updates that show one profile: its summary, histogram and sample rows."""
    # Bars stand on zero (else the lowest bar starts at the axis and looks empty); at least 6 rows of height
    # keep the row ticks whole.
    top = max(int(frame["rows"].max()) if len(frame) else 0, 6)
    return {
        panel.summary: text,
        panel.histogram: gr.BarPlot(frame, y_lim=[0, top]),
        panel.samples: gr.Dataframe(table, visible=not table.empty, datatype="markdown"),
    }


def wire_profile(panel: ProfilePanel, api_url: str, token: gr.State, version: gr.Dropdown) -> None:
    panel.run.click(
        lambda *args: show_profile(panel, *compute_profile(api_url, *args)),
        inputs=[token, version, panel.model, panel.max_length, panel.template],
        outputs=panel.outputs,
    )
