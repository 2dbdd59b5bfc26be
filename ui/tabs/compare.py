"""Compare tab: one prompt answered by a base model and models tuned from it, side by side."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ui.client import ApiError
from ui.spec_form import schema_fields
from ui.tabs.common import client_for, error_md

SLOTS = 4  # answer columns: the base model and up to three tuned models
SETTINGS = ("max_new_tokens", "temperature", "top_k", "top_p", "repetition_penalty", "seed")


# -- handlers (plain functions) ------------------------------------------------------------------------


def _model_label(model: dict) -> str:
    origin = f" · job #{model['job_id']}" if model.get("job_id") else ""
    kind = "adapter" if model.get("is_adapter") else model.get("source", "")
    return f"{model['name']} (#{model['id']} · {kind}{origin})"


def model_choices(api_url: str, token: str, base_id: int | None = None) -> tuple[list, list, str]:
    """(base model choices, tuned model choices for base_id, message)."""
    if not token:
        return [], [], ""
    try:
        models = client_for(api_url, token).list_models()
    except ApiError as exc:
        return [], [], error_md(exc)
    bases = [(_model_label(m), m["id"]) for m in models if not m.get("parent_model_id")]
    # newest first: the model just trained is the one a user most likely wants to compare
    tuned = [
        (_model_label(m), m["id"])
        for m in reversed(models)
        if base_id is not None and m.get("parent_model_id") == base_id
    ]
    return bases, tuned, ""


def generate(
    api_url: str,
    token: str,
    base_id: int | None,
    tuned_ids: list[int] | None,
    prompt: str,
    system_prompt: str,
    max_new_tokens: float,
    sampling: bool,
    temperature: float,
    top_k: float,
    top_p: float,
    repetition_penalty: float,
    seed: int | str | None,
) -> tuple[str, list[dict]]:
    """Ask the server for every model's answer. Returns (status markdown, [{name, text, seconds}, ...])."""
    if not base_id:
        return "**Pick a base model.**", []
    if not prompt or not prompt.strip():
        return "**Write a prompt.**", []
    ids = [int(base_id), *[int(t) for t in (tuned_ids or []) if int(t) != int(base_id)]]
    note = ""
    if len(ids) > SLOTS:
        ids, note = ids[:SLOTS], f" Only the first {SLOTS - 1} tuned models are shown."
    body: dict[str, Any] = {
        "model_ids": ids,
        "prompt": prompt,
        "max_new_tokens": int(max_new_tokens),
        "do_sample": bool(sampling),
        "temperature": float(temperature),
        "top_k": int(top_k),
        "top_p": float(top_p),
        "repetition_penalty": float(repetition_penalty),
    }
    if system_prompt and system_prompt.strip():
        body["system_prompt"] = system_prompt
    if seed is not None and str(seed).strip():
        try:
            body["seed"] = int(str(seed).strip())
        except ValueError:
            return "**The seed must be a whole number (or empty for a random one).**", []
    try:
        client = client_for(api_url, token)
        answer = client.generate(body)
        for _ in range(4):  # a cold model load can outlast one server-side wait
            if answer["status"] in ("succeeded", "failed"):
                break
            answer = client.get_generation(answer["id"])
    except ApiError as exc:
        return error_md(exc), []
    if answer["status"] == "failed":
        return f"**Generation failed:** {html.escape(answer.get('error') or 'no reason given')}", []
    if answer["status"] != "succeeded":
        return (
            f"Still {answer['status']} after waiting: is an inference worker running? "
            f"(request #{answer['id']})"
        ), []
    outputs = (answer.get("result") or {}).get("outputs", [])
    total = sum(o.get("seconds") or 0 for o in outputs)
    mode = "sampling" if sampling else "greedy"
    return f"{len(outputs)} answers · {mode} decoding · {total:.1f} s of generation.{note}", outputs


# -- layout and wiring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComparePanel:
    base: gr.Dropdown
    tuned: gr.CheckboxGroup
    refresh: gr.Button
    message: gr.Markdown
    prompt: gr.Textbox
    system: gr.Textbox
    decoding: gr.Radio
    settings: dict[str, gr.components.Component]  # by generation field, in SETTINGS order
    generate: gr.Button
    status: gr.Markdown
    answers: list[gr.Textbox]  # SLOTS columns: the base model first


def _model_pickers() -> dict:
    with gr.Row():
        base = gr.Dropdown([], value=None, label="Base model", elem_id="compare-base", scale=2)
        tuned = gr.CheckboxGroup(
            [],
            value=[],
            label="Tuned models",
            elem_id="compare-tuned",
            scale=3,
            info="Models trained from the base model; pick up to three.",
        )
        refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="compare-refresh")
    return {"base": base, "tuned": tuned, "refresh": refresh}


def _generation_settings() -> dict:
    """The decoding choice, then the generation fields by name (their help comes from the API's schema)."""
    decoding = gr.Radio(
        [("Greedy", False), ("Sampling", True)], value=False, label="Decoding", elem_id="compare-decoding"
    )
    max_new = gr.Slider(1, 1024, value=128, step=1, label="Max new tokens", elem_id="compare-max-new-tokens")
    with gr.Row():
        temperature = gr.Slider(
            0.05, 2.0, value=0.7, step=0.05, label="Temperature", elem_id="compare-temperature"
        )
        top_p = gr.Slider(0.05, 1.0, value=0.95, step=0.05, label="Top-p", elem_id="compare-top-p")
    with gr.Row():
        top_k = gr.Number(50, label="Top-k", precision=0, minimum=0, elem_id="compare-top-k")
        repetition = gr.Number(
            1.0, label="Repetition penalty", minimum=1.0, elem_id="compare-repetition-penalty"
        )
        seed = gr.Textbox("", label="Seed", placeholder="random", elem_id="compare-seed")
    fields = dict(zip(SETTINGS, (max_new, temperature, top_k, top_p, repetition, seed), strict=True))
    return {"decoding": decoding, "settings": fields}


def _prompt_and_settings() -> dict:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            prompt = gr.Textbox(
                label="Prompt", lines=4, placeholder="Ask something…", elem_id="compare-prompt"
            )
            system = gr.Textbox(label="System prompt (optional)", lines=2, elem_id="compare-system")
        with gr.Column(scale=2), gr.Accordion("Generation settings", open=True):
            generation = _generation_settings()
    return {"prompt": prompt, "system": system, **generation}


def build_compare_layout() -> ComparePanel:
    pickers = _model_pickers()
    message = gr.Markdown("", elem_id="compare-message")
    inputs = _prompt_and_settings()
    generate_button = gr.Button("Generate", variant="primary", elem_id="compare-generate")
    status = gr.Markdown("", elem_id="compare-status")
    with gr.Row(equal_height=True):
        answers = [
            gr.Textbox(
                label=f"Answer {i + 1}",
                lines=10,
                interactive=False,
                visible=i == 0,
                elem_id=f"compare-output-{i}",
                buttons=["copy"],
            )
            for i in range(SLOTS)
        ]
    return ComparePanel(
        **pickers, message=message, **inputs, generate=generate_button, status=status, answers=answers
    )


def answer_boxes(panel: ComparePanel, outputs: list[dict]) -> dict:
    """One answer per column, labelled with its model and time; unused columns hidden (the first stays)."""
    boxes = {}
    for i, box in enumerate(panel.answers):
        if i < len(outputs):
            out = outputs[i]
            seconds = f" · {out['seconds']:.1f} s" if out.get("seconds") is not None else ""
            boxes[box] = gr.Textbox(
                value=out.get("text", ""), label=f"{out.get('name', '?')}{seconds}", visible=True
            )
        else:
            boxes[box] = gr.Textbox(value="", visible=i == 0 and not outputs, label=f"Answer {i + 1}")
    return boxes


def build_compare_tab(api_url: str, token: gr.State, api_doc: gr.State) -> gr.Tab:
    with gr.Tab("Compare", id="compare", elem_id="tab-compare") as tab:
        panel = build_compare_layout()
    settings = panel.settings

    def _docs(doc: dict | None):
        fields = schema_fields(doc, "GenerationCreate") if doc else {}
        updates = {
            settings[name]: gr.update(info=fields[name]["info"]) for name in SETTINGS if name in fields
        }
        return updates or gr.skip()

    api_doc.change(_docs, inputs=api_doc, outputs=list(settings.values()))

    def _refresh(token_value, base_id, tuned_ids):
        bases, _, note = model_choices(api_url, token_value)
        base_ids = [b for _, b in bases]
        base_id = base_id if base_id in base_ids else (base_ids[0] if base_ids else None)
        _, tuned_choices, _ = model_choices(api_url, token_value, base_id)
        tuned_set = {t for _, t in tuned_choices}
        kept = [t for t in (tuned_ids or []) if t in tuned_set] or [t for _, t in tuned_choices][:1]
        return {
            panel.base: gr.Dropdown(choices=bases, value=base_id),
            panel.tuned: gr.CheckboxGroup(choices=tuned_choices, value=kept),
            panel.message: note,
        }

    def _tuned(token_value, base_id):
        _, tuned_choices, note = model_choices(api_url, token_value, base_id)
        hint = note or ("" if tuned_choices or not base_id else "No tuned models for this base yet.")
        return {
            panel.tuned: gr.CheckboxGroup(choices=tuned_choices, value=[t for _, t in tuned_choices][:1]),
            panel.message: hint,
        }

    pickers = {
        "inputs": [token, panel.base, panel.tuned],
        "outputs": [panel.base, panel.tuned, panel.message],
    }
    token.change(_refresh, **pickers)
    tab.select(_refresh, **pickers)
    panel.refresh.click(_refresh, **pickers)
    panel.base.input(_tuned, inputs=[token, panel.base], outputs=[panel.tuned, panel.message])

    def _generate(token_value, base_id, tuned_ids, prompt_text, system_text, sampling, *values):
        line, outputs = generate(
            api_url,
            token_value,
            base_id,
            tuned_ids,
            prompt_text,
            system_text,
            sampling=sampling,
            **dict(zip(SETTINGS, values, strict=True)),
        )
        return {panel.status: line, **answer_boxes(panel, outputs)}

    panel.generate.click(
        _generate,
        inputs=[
            token,
            panel.base,
            panel.tuned,
            panel.prompt,
            panel.system,
            panel.decoding,
            *settings.values(),
        ],
        outputs=[panel.status, *panel.answers],
        concurrency_limit=8,
    )
    return tab
