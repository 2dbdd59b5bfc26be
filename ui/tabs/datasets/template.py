"""Datasets › Template preview: one row exactly as training tokenizes it, the tokens that carry the loss
highlighted."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import gradio as gr

from ui.client import ApiError
from ui.tabs.common import client_for, error_md
from ui.tabs.datasets.shared import PICK_VERSION, TEMPLATES, request_failed

LOSS_ON = [("Assistant replies", "assistant"), ("Every token", "all")]
TRAINED, CONTEXT = "trained on", "context"
TOKEN_COLOURS = {TRAINED: "#22c55e", CONTEXT: "#e5e7eb"}
INTRO = "The row exactly as training tokenizes it: tokens that carry the loss are highlighted."


def highlighted_tokens(tokens: list[dict]) -> list[tuple[str, str]]:
    """Tokens as (text, 'trained on' | 'context') pairs for gr.HighlightedText."""
    return [(t["token"], TRAINED if t.get("loss") else CONTEXT) for t in tokens]


def _summary_md(result: dict, body: dict) -> str:
    total, trained = result.get("num_tokens", 0), result.get("num_loss_tokens", 0)
    share = f" ({trained / total:.0%})" if total else ""
    summary = (
        f"Row {result.get('row', body['row']) + 1} · **{total}** tokens · **{trained}** trained on{share} · "
        f"**{total - trained}** context"
    )
    if total >= body["max_length"]:
        summary += f" · ⚠️ cut at max length {body['max_length']}"
    return summary


def template_preview(
    api_url: str,
    token: str,
    version_id: int | None,
    model_id: int | None,
    row: float | None,
    chat_template: str,
    max_length: float | None,
    loss_on: str,
) -> tuple[str, list[tuple[str, str]]]:
    """Row `row` (1-based, as the UI counts) as the trainer will see it.

    Returns (counts markdown, highlighted tokens).
    """
    if not version_id:
        return PICK_VERSION, []
    if not model_id:
        return "**Pick a model: its tokenizer and template render the row.**", []
    body = {
        "model_id": int(model_id),
        "row": max(0, int(row or 1) - 1),
        "chat_template": chat_template,
        "max_length": int(max_length or 1024),
        "loss_on": loss_on,
    }
    try:
        request = client_for(api_url, token).preview_template(int(version_id), body)
    except ApiError as exc:
        return error_md(exc), []
    problem = request_failed(request, "template preview")
    if problem:
        return problem, []
    result = request["result"]
    return _summary_md(result, body), highlighted_tokens(result.get("tokens") or [])


# -- layout and wiring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplatePanel:
    model: gr.Dropdown
    template: gr.Dropdown
    loss_on: gr.Dropdown
    row: gr.Number
    max_length: gr.Number
    run: gr.Button
    summary: gr.Markdown
    tokens: gr.HighlightedText

    @property
    def outputs(self) -> list:
        return [self.summary, self.tokens]


def build_template() -> TemplatePanel:
    with gr.Tab("Template preview", id="ds-template", elem_id="dataset-tab-template"):
        with gr.Row(equal_height=True):
            model = gr.Dropdown(
                [], value=None, label="Tokenizer of model", elem_id="dataset-template-model", scale=2
            )
            template = gr.Dropdown(
                TEMPLATES, value="model", label="Chat template", elem_id="dataset-template-template", scale=1
            )
            loss_on = gr.Dropdown(
                LOSS_ON, value="assistant", label="Loss on", elem_id="dataset-template-loss-on", scale=1
            )
        with gr.Row(equal_height=True):
            row = gr.Number(1, label="Row", precision=0, minimum=1, elem_id="dataset-template-row", scale=1)
            max_length = gr.Number(
                1024,
                label="Max length (tokens)",
                precision=0,
                minimum=16,
                elem_id="dataset-template-max-length",
                scale=1,
            )
            run = gr.Button(
                "Show tokens", variant="primary", scale=0, min_width=160, elem_id="dataset-template-run"
            )
        summary = gr.Markdown(INTRO, elem_id="dataset-template-summary")
        tokens = gr.HighlightedText(
            [],
            label="Tokens",
            show_legend=True,
            show_inline_category=False,
            color_map=TOKEN_COLOURS,
            elem_id="dataset-template-tokens",
        )
    return TemplatePanel(model, template, loss_on, row, max_length, run, summary, tokens)


def cleared_template(panel: TemplatePanel) -> dict:
    """Updates that drop a shown preview (it belonged to another version)."""
    return {panel.summary: INTRO, panel.tokens: []}


def wire_template(panel: TemplatePanel, api_url: str, token: gr.State, version: gr.Dropdown) -> None:
    panel.run.click(
        partial(template_preview, api_url),
        inputs=[token, version, panel.model, panel.row, panel.template, panel.max_length, panel.loss_on],
        outputs=[panel.summary, panel.tokens],
    )
