"""The Train tab: pick a base model, datasets and a method; the method's form is drawn from the API's job-spec
schema each time the method changes."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ui.spec_form import method_forms
from ui.tabs.train.form import draw_method_form
from ui.tabs.train.handlers import METHOD_NAMES, launch_job, load_choices, weights_frame


@dataclass(frozen=True)
class TrainPanel:
    base: gr.Dropdown
    job_name: gr.Textbox
    refresh: gr.Button
    datasets: gr.Dropdown
    eval_set: gr.Dropdown
    weights: gr.Dataframe
    message: gr.Markdown
    labels: gr.State  # version id -> its label, for the mixture table
    method: gr.Dropdown
    method_help: gr.Markdown


def _dataset_pickers() -> dict:
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
    return {"datasets": datasets, "eval_set": eval_set, "weights": weights}


def build_train_layout() -> TrainPanel:
    """Everything above the method's form."""
    gr.Markdown("### New training job")
    with gr.Row():
        base = gr.Dropdown([], value=None, label="Base model", elem_id="train-base-model", scale=2)
        job_name = gr.Textbox(
            label="Job name", placeholder="Default: method and model", elem_id="train-name", scale=2
        )
        refresh = gr.Button("Refresh lists", size="sm", scale=0, elem_id="train-refresh")
    pickers = _dataset_pickers()
    message = gr.Markdown("", elem_id="train-message")
    labels = gr.State({})  # a State in the tab, not the Tabs
    with gr.Row():
        method = gr.Dropdown([("sft", "sft")], value="sft", label="Method", elem_id="train-method", scale=1)
        method_help = gr.Markdown("", elem_id="train-method-help")
    return TrainPanel(
        base,
        job_name,
        refresh,
        message=message,
        labels=labels,
        method=method,
        method_help=method_help,
        **pickers,
    )


def _wire_pickers(panel: TrainPanel, api_url: str, token: gr.State, api_doc: gr.State, tab: gr.Tab) -> None:
    def _methods(doc: dict | None, current: str):
        forms = method_forms(doc) if doc else {}
        choices = [(METHOD_NAMES.get(m, m.upper()), m) for m in forms]
        return gr.Dropdown(choices=choices or [("sft", "sft")], value=current if current in forms else "sft")

    def _method_help(doc: dict | None, chosen: str) -> str:
        forms = method_forms(doc) if doc else {}
        return forms[chosen]["description"] if chosen in forms else ""

    def _refresh(token_value: str, base_id, version_ids, eval_id) -> dict:
        bases, versions, note = load_choices(api_url, token_value)
        base_ids, version_set = [b for _, b in bases], {v for _, v in versions}
        base_id = base_id if base_id in base_ids else (base_ids[0] if bases else None)
        return {
            panel.base: gr.Dropdown(choices=bases, value=base_id),
            panel.datasets: gr.Dropdown(
                choices=versions, value=[v for v in (version_ids or []) if v in version_set]
            ),
            panel.eval_set: gr.Dropdown(
                choices=[("None", None), *versions], value=eval_id if eval_id in version_set else None
            ),
            panel.message: note,
            panel.labels: {v: label for label, v in versions},
        }

    def _weights(version_ids, choices_by_id, table):
        frame = weights_frame(version_ids, choices_by_id or {}, table)
        # one dataset needs no weight: the table shows only for a mixture
        return gr.Dataframe(frame, visible=len(frame) > 1)

    panel.datasets.change(
        _weights, inputs=[panel.datasets, panel.labels, panel.weights], outputs=panel.weights
    )
    api_doc.change(_methods, inputs=[api_doc, panel.method], outputs=panel.method)
    panel.method.change(_method_help, inputs=[api_doc, panel.method], outputs=panel.method_help)
    api_doc.change(_method_help, inputs=[api_doc, panel.method], outputs=panel.method_help)
    pickers = {
        "inputs": [token, panel.base, panel.datasets, panel.eval_set],
        "outputs": [panel.base, panel.datasets, panel.eval_set, panel.message, panel.labels],
    }
    token.change(_refresh, **pickers)
    tab.select(_refresh, **pickers)
    panel.refresh.click(_refresh, **pickers)


def build_train_tab(api_url: str, token: gr.State, api_doc: gr.State) -> gr.Tab:
    with gr.Tab("Train", id="train", elem_id="tab-train") as tab:
        panel = build_train_layout()
        with gr.Column(elem_id="train-form"):  # the render's own parent: the tab keeps its place

            @gr.render(inputs=[api_doc, panel.method], triggers=[api_doc.change, panel.method.change])
            def _form(doc: dict | None, chosen: str):
                forms = method_forms(doc) if doc else {}
                if chosen not in forms:
                    gr.Markdown("Log in to load the training methods.")
                    return
                fields = forms[chosen]["fields"]
                widgets = draw_method_form(fields)
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

                chosen_data = [panel.job_name, panel.base, panel.datasets, panel.eval_set, panel.weights]
                launch.click(_launch, inputs=[token, *chosen_data, *widgets], outputs=result)

        result = gr.Markdown("", elem_id="train-result")

    _wire_pickers(panel, api_url, token, api_doc, tab)
    return tab
