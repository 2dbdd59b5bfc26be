"""Train tab: pick a base model, datasets and a method; the method's form is drawn from the API's job-spec schema."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr
import pandas as pd

from ui.client import ApiError
from ui.spec_form import MAIN_FIELDS, SpecError, build_spec, initial_value, method_forms
from ui.tabs.common import client_for, error_md, human_bytes

SECTION_TITLES = {"method": "Method settings", "adapter": "Adapter", "training": "Training"}
PER_ROW = 3
METHOD_NAMES = {
    "sft": "SFT (supervised fine-tuning)",
    "pretrain": "Continued pre-training",
    "reward": "Reward model",
    "dpo": "DPO",
    "kto": "KTO",
    "orpo": "ORPO",
    "grpo": "GRPO",
    "rloo": "RLOO",
    "ppo": "PPO",
}
WEIGHT_COLUMNS = ["Version ID", "Dataset", "Weight"]
BREAKDOWN_NAMES = {
    "weights": "weights",
    "gradients": "gradients",
    "optimizer_states": "optimizer states",
    "activations": "activations",
    "logits": "logits",
    "overhead": "overhead",
}


# -- handlers (plain functions) -------------------------------------------------------------------------------


def _params(n: int | None) -> str:
    if not n:
        return ""
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


def load_choices(api_url: str, token: str) -> tuple[list, list, str]:
    """(base model choices, dataset version choices, message) for the pickers."""
    if not token:
        return [], [], ""
    try:
        client = client_for(api_url, token)
        models, datasets = client.list_models(), client.list_datasets()
    except ApiError as exc:
        return [], [], error_md(exc)
    bases = [
        (
            f"{m['name']}"
            + (f" · {_params(m.get('num_parameters'))} params" if m.get("num_parameters") else "")
            + (f" · {m['architecture']}" if m.get("architecture") else ""),
            m["id"],
        )
        for m in models
        if not m.get("is_adapter")
    ]
    versions = [
        (f"{d['name']} v{v['version']} · {v['format']} · {v['row_count']} rows", v["id"])
        for d in datasets
        for v in sorted(d["versions"], key=lambda v: -v["version"])
    ]
    message = "" if bases else "No base model is registered yet (`afina register-model`)."
    return bases, versions, message


def weights_frame(
    version_ids: list[int] | None, labels: dict[int, str], previous: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per chosen dataset version with its mixture weight (kept from `previous`, else 1)."""
    kept: dict[int, float] = {}
    if previous is not None and not previous.empty:
        for version_id, _, weight in previous[WEIGHT_COLUMNS].itertuples(index=False):
            try:
                kept[int(float(version_id))] = float(weight)
            except (TypeError, ValueError):
                continue
    lines = [[int(v), labels.get(int(v), f"version {v}"), kept.get(int(v), 1.0)] for v in version_ids or []]
    return pd.DataFrame(lines, columns=WEIGHT_COLUMNS)


def mixture(version_ids: list[int], weights: pd.DataFrame | None) -> list[dict]:
    """The `datasets` of POST /api/jobs: each chosen version with the weight given in the table (default 1)."""
    given: dict[int, Any] = {}
    if weights is not None and not weights.empty:
        for v, _, w in weights[WEIGHT_COLUMNS].itertuples(index=False):
            try:
                given[int(float(v))] = w
            except (TypeError, ValueError):
                continue  # a row the user added by hand: not a chosen version
    refs = []
    for version_id in version_ids:
        raw = given.get(int(version_id), 1.0)
        try:
            weight = float(raw if raw not in (None, "") else 1.0)
        except (TypeError, ValueError):
            raise ValueError(
                f"The mixture weight of version {version_id} is not a number: {raw!r}."
            ) from None
        if not 0 < weight <= 1000:
            raise ValueError(
                f"The mixture weight of version {version_id} must be above 0 and at most 1000 "
                f"(got {weight:g})."
            )
        refs.append({"version_id": int(version_id), "weight": weight})
    return refs


def memory_md(estimate: dict | None) -> str:
    """The server's training-memory estimate of a job: total, device, and what the bytes are for."""
    if not isinstance(estimate, dict) or not estimate.get("total_bytes"):
        return ""
    device = estimate.get("device") or {}
    where = ""
    if isinstance(device, dict) and device.get("device"):
        where = f" on **{html.escape(str(device.get('name') or device['device']))}**"
        if device.get("memory_bytes"):
            share = estimate["total_bytes"] / device["memory_bytes"]
            where += (
                f" ({human_bytes(device['memory_bytes'])}, {'<1%' if share < 0.01 else f'{share:.0%}'} of it)"
            )
    total = estimate.get("total_gb")
    total = (
        f"{total:g} GB"
        if isinstance(total, int | float) and total >= 0.1
        else human_bytes(estimate["total_bytes"])
    )
    parts = [
        f"{BREAKDOWN_NAMES.get(k, k.replace('_', ' '))} {human_bytes(v)}"
        for k, v in (estimate.get("breakdown") or {}).items()
        if isinstance(v, int | float)
    ]
    line = f"**Memory estimate: {total}**{where}"
    if estimate.get("trainable_params") and estimate.get("params"):
        line += f" · {estimate['trainable_params']:,} of {estimate['params']:,} parameters trained" + (
            f" · {estimate['precision']}" if estimate.get("precision") else ""
        )
    return line + ("\n\n" + " · ".join(parts) if parts else "")


def launch_job(
    api_url: str,
    token: str,
    name: str,
    base_model_id: int | None,
    version_ids: list[int] | None,
    eval_version_id: int | None,
    method: str,
    fields: list[dict],
    values: list[Any],
    weights: pd.DataFrame | None = None,
) -> str:
    """POST /api/jobs from the form; returns markdown: the new job and its memory estimate, or what the server
    refused. `weights` is the mixture table (version id, dataset, weight); missing weights are 1."""
    if not base_model_id:
        return "**Pick a base model.**"
    if not version_ids:
        return "**Pick at least one training dataset.**"
    try:
        spec = build_spec(method, fields, values)
        datasets = mixture(version_ids, weights)
    except (SpecError, ValueError) as exc:
        return f"**Error:** {html.escape(str(exc))}"
    body: dict[str, Any] = {"base_model_id": int(base_model_id), "spec": spec, "datasets": datasets}
    if name and name.strip():
        body["name"] = name.strip()
    if eval_version_id:
        body["eval_dataset_version_id"] = int(eval_version_id)
    try:
        job = client_for(api_url, token).create_job(body)
    except ApiError as exc:
        return error_md(exc)
    line = (
        f"**Job #{job['id']} ({html.escape(job['name'])}) is {job['status']}.** "
        "Follow it in the **Jobs** tab."
    )
    if len(datasets) > 1:
        total = sum(d["weight"] for d in datasets)
        line += "\n\nMixture: " + " · ".join(
            f"version {d['version_id']} {d['weight'] / total:.0%}" for d in datasets
        )
    memory = memory_md(job.get("memory_estimate"))
    return line + (f"\n\n{memory}" if memory else "")


# -- layout and wiring ----------------------------------------------------------------------------------------


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
    placeholder = None
    if kind == "list":
        placeholder = (
            "comma-separated, e.g. q_proj, v_proj"
            + (f" — or {', '.join(field['choices'])}" if field.get("choices") else "")
            + "; empty = default"
        )
    elif field.get("choices"):
        placeholder = f"a number, or {', '.join(field['choices'])}"
    return gr.Textbox(value=value, placeholder=placeholder, **common)


def _grid(fields: list[dict]) -> list:
    widgets = []
    for start in range(0, len(fields), PER_ROW):
        with gr.Row():
            widgets += [_widget(f) for f in fields[start : start + PER_ROW]]
    return widgets


def build_train_tab(api_url: str, token: gr.State, api_doc: gr.State) -> gr.Tab:
    with gr.Tab("Train", id="train", elem_id="tab-train") as tab:
        gr.Markdown("### New training job")
        with gr.Row():
            base = gr.Dropdown([], value=None, label="Base model", elem_id="train-base-model", scale=2)
            job_name = gr.Textbox(
                label="Job name", placeholder="Default: method and model", elem_id="train-name", scale=2
            )
            refresh = gr.Button("Refresh lists", size="sm", scale=0, elem_id="train-refresh")
        with gr.Row():
            datasets = gr.Dropdown(
                [],
                value=[],
                multiselect=True,
                label="Training datasets",
                info="One or more dataset versions; set the mix of several below.",
                elem_id="train-datasets",
                scale=3,
            )
            eval_set = gr.Dropdown(
                [],
                value=None,
                label="Validation dataset (optional)",
                info="Or hold out a share of the training rows (Training → validation split).",
                elem_id="train-eval-dataset",
                scale=2,
            )
        weights = gr.Dataframe(
            weights_frame([], {}),
            label="Mixture weights (edit the Weight column)",
            interactive=True,
            static_columns=[0, 1],
            elem_id="train-weights",
            visible=False,
            datatype=["number", "str", "number"],
            max_height=220,
            column_widths=["15%", "65%", "20%"],
        )
        message = gr.Markdown("", elem_id="train-message")
        labels = gr.State(
            {}
        )  # version id -> its label, for the mixture table (a State in the tab, not the Tabs)
        with gr.Row():
            method = gr.Dropdown(
                [("sft", "sft")], value="sft", label="Method", elem_id="train-method", scale=1
            )
            method_help = gr.Markdown("", elem_id="train-method-help")

        with gr.Column(elem_id="train-form"):  # the render's own parent: the tab keeps its place

            @gr.render(inputs=[api_doc, method], triggers=[api_doc.change, method.change])
            def _form(doc: dict | None, chosen: str):
                forms = method_forms(doc) if doc else {}
                if chosen not in forms:
                    gr.Markdown("Log in to load the training methods.")
                    return
                fields = forms[chosen]["fields"]
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
                widgets = [by_path[f["path"]] for f in fields]
                launch = gr.Button("Launch training", variant="primary", elem_id="train-launch")

                def _launch(token_value, name, base_id, version_ids, eval_id, weight_table, *values):
                    return launch_job(
                        api_url,
                        token_value,
                        name,
                        base_id,
                        version_ids,
                        eval_id,
                        chosen,
                        fields,
                        list(values),
                        weight_table,
                    )

                launch.click(
                    _launch,
                    inputs=[token, job_name, base, datasets, eval_set, weights, *widgets],
                    outputs=result,
                )

        result = gr.Markdown("", elem_id="train-result")

    def _methods(doc: dict | None, current: str):
        forms = method_forms(doc) if doc else {}
        choices = [(METHOD_NAMES.get(m, m.upper()), m) for m in forms]
        return gr.Dropdown(choices=choices or [("sft", "sft")], value=current if current in forms else "sft")

    def _method_help(doc: dict | None, chosen: str) -> str:
        forms = method_forms(doc) if doc else {}
        return forms[chosen]["description"] if chosen in forms else ""

    def _refresh(token_value: str, base_id, version_ids, eval_id):
        bases, versions, note = load_choices(api_url, token_value)
        base_ids, version_set = [b for _, b in bases], {v for _, v in versions}
        return (
            gr.Dropdown(
                choices=bases, value=base_id if base_id in base_ids else (base_ids[0] if bases else None)
            ),
            gr.Dropdown(choices=versions, value=[v for v in (version_ids or []) if v in version_set]),
            gr.Dropdown(
                choices=[("None", None), *versions], value=eval_id if eval_id in version_set else None
            ),
            note,
            {v: label for label, v in versions},
        )

    def _weights(version_ids, choices_by_id, table):
        frame = weights_frame(version_ids, choices_by_id or {}, table)
        # one dataset needs no weight: the table shows only for a mixture
        return gr.Dataframe(frame, visible=len(frame) > 1)

    datasets.change(_weights, inputs=[datasets, labels, weights], outputs=weights)
    api_doc.change(_methods, inputs=[api_doc, method], outputs=method)
    method.change(_method_help, inputs=[api_doc, method], outputs=method_help)
    api_doc.change(_method_help, inputs=[api_doc, method], outputs=method_help)
    pickers = {
        "inputs": [token, base, datasets, eval_set],
        "outputs": [base, datasets, eval_set, message, labels],
    }
    token.change(_refresh, **pickers)
    tab.select(_refresh, **pickers)
    refresh.click(_refresh, **pickers)
    return tab
