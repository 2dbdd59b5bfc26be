"""Train › the method's form: one widget per job-spec field, drawn from the API's schema (read by
ui/spec_form.py), main fields first and the rest of each section in an accordion."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ui.spec_form import MAIN_FIELDS, initial_value

SECTION_TITLES = {"method": "Method settings", "adapter": "Adapter", "training": "Training"}
PER_ROW = 3


def _list_placeholder(field: dict) -> str | None:
    if field["kind"] == "list":
        return (
            "comma-separated, e.g. q_proj, v_proj"
            + (f" — or {', '.join(field['choices'])}" if field.get("choices") else "")
            + "; empty = default"
        )
    if field.get("choices"):
        return f"a number, or {', '.join(field['choices'])}"
    return None


def _widget(field: dict) -> gr.components.Component:
    info = field["info"]
    lo, hi = field.get("minimum"), field.get("maximum")
    if field["kind"] in ("int", "float") and (lo is not None or hi is not None):
        info += f" Range: {'' if lo is None else f'{lo:g}'}–{'' if hi is None else f'{hi:g}'}."
    common = {
        "label": field["label"],
        "info": info,
        "key": f"train-{field['path']}",
        "interactive": True,
        "elem_id": f"train-{field['path'].replace('.', '-').replace('_', '-')}",
    }
    value = initial_value(field)
    kind = field["kind"]
    if kind == "bool":
        return gr.Checkbox(value=bool(value), **common)
    if kind == "choice":
        return gr.Dropdown(field["choices"], value=value, **common)
    if kind in ("int", "float"):
        placeholder = "server default" if value is None else None
        return gr.Number(
            value=value, precision=0 if kind == "int" else None, placeholder=placeholder, **common
        )
    if kind == "json":
        return gr.Code(
            value=value, language="json", lines=4, **{k: v for k, v in common.items() if k != "info"}
        )
    return gr.Textbox(value=value, placeholder=_list_placeholder(field), **common)


def _grid(fields: list[dict]) -> list:
    widgets = []
    for start in range(0, len(fields), PER_ROW):
        with gr.Row():
            widgets += [_widget(f) for f in fields[start : start + PER_ROW]]
    return widgets


def draw_method_form(fields: list[dict]) -> list[gr.components.Component]:
    """Draw the form of one method, section by section; returns its widgets in the order of `fields`."""
    by_path: dict[str, Any] = {}
    for section in ("method", "adapter", "training"):
        in_section = [f for f in fields if f["section"] == section]
        if not in_section:
            continue
        main_names = MAIN_FIELDS.get(section)
        main = [f for f in in_section if main_names is None or f["name"] in main_names]
        more = [f for f in in_section if f not in main]
        gr.Markdown(f"#### {SECTION_TITLES[section]}")
        by_path.update(zip([f["path"] for f in main], _grid(main), strict=True))
        if more:
            with gr.Accordion(f"More {SECTION_TITLES[section].lower()} settings", open=False):
                by_path.update(zip([f["path"] for f in more], _grid(more), strict=True))
    return [by_path[f["path"]] for f in fields]
