"""Evaluate tab: launch an evaluation job (base against tuned models on a dataset), then read its figures,
plots and per-row evidence, filter to the rows a tuned model lost, and download every row."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import gradio as gr

from ui.client import ApiError
from ui.evaluation_view import metric_figure, model_names, rows_frame, summary_markdown, wins_figure
from ui.tabs.common import client_for, error_md
from ui.tabs.evaluate_graders import ModelGraders, build_model_graders, model_grader_specs

#: text graders offered by checkbox; the classifier and the judge have their own options
#: (evaluate_graders.py); regex, reward-model and length graders are on the REST API
GRADER_CHOICES = [
    ("ROUGE-L", "rougeL"),
    ("ROUGE-1", "rouge1"),
    ("ROUGE-2", "rouge2"),
    ("BLEU", "bleu"),
    ("chrF", "chrf"),
    ("Exact match", "exact_match"),
    ("Normalised exact match", "normalized_exact_match"),
    ("Valid JSON", "json_valid"),
]
FINISHED = ("succeeded", "failed", "cancelled")


# -- handlers (plain functions) ------------------------------------------------------------------------------


def grader_specs(names: list[str]) -> list[dict]:
    return [{"kind": "rouge", "rouge_type": n} if n.startswith("rouge") else {"kind": n} for n in names]


def parse_shots(text: str) -> list[int]:
    """'0, 1, 3' -> [0, 1, 3]; raises ValueError with a message a person can act on."""
    parts = [p.strip() for p in (text or "").replace(";", ",").split(",") if p.strip()]
    try:
        shots = [int(p) for p in parts]
    except ValueError:
        raise ValueError("Few-shot: whole numbers separated by commas, such as 0, 1, 3.") from None
    if any(k < 0 or k > 16 for k in shots):
        raise ValueError("Few-shot: each number of examples between 0 and 16.")
    return shots


def _version_label(dataset: dict, version: dict) -> str:
    split = f" · {version['split']}" if version.get("split") else ""
    size = f"{version['row_count']} rows · {version['format']}"
    return f"{dataset['name']} v{version['version']}{split} ({size})"


def choices(api_url: str, token: str) -> tuple[list, list, list, str]:
    """(model choices, dataset version choices, evaluation choices, message)."""
    if not token:
        return [], [], [], ""
    try:
        client = client_for(api_url, token)
        models, sets, evals = client.list_models(), client.list_datasets(), client.list_evaluations()["items"]
    except ApiError as exc:
        return [], [], [], error_md(exc)
    model_choices = [(f"{m['name']} (#{m['id']})", m["id"]) for m in reversed(models)]
    versions = [(_version_label(d, v), v["id"]) for d in sets for v in d.get("versions", [])]
    evaluations = [(f"#{e['id']} {e['name']} · {e['status']}", e["id"]) for e in evals]
    return model_choices, versions, evaluations, ""


KINDS = [
    ("Answers, graded", "generation"),
    ("Reward-model accuracy on preference pairs", "preference_accuracy"),
]


def launch(
    api_url: str,
    token: str,
    kind: str,
    baseline,
    compared,
    version,
    general,
    examples,
    graders,
    max_rows,
    max_new_tokens,
    shots_text,
    *model_grader_options,
) -> tuple[str, int | None]:
    """Create the evaluation; returns (message, its id)."""
    if not baseline or not version:
        return "**Pick a baseline model and a dataset version.**", None
    if kind == "preference_accuracy":
        body = {
            "model_ids": [int(baseline), *[int(c) for c in compared or [] if int(c) != int(baseline)]],
            "dataset_version_id": int(version),
            "spec": {"kind": kind, "max_rows": int(max_rows)},
        }
        return _create(api_url, token, body)
    specs = grader_specs(graders or []) + model_grader_specs(*model_grader_options)
    if not specs:
        return "**Pick at least one grader.**", None
    try:
        shots = parse_shots(shots_text)
    except ValueError as exc:
        return f"**{exc}**", None
    ids = [int(baseline), *[int(c) for c in compared or [] if int(c) != int(baseline)]]
    body = {
        "model_ids": ids,
        "dataset_version_id": int(version),
        "spec": {
            "graders": specs,
            "max_rows": int(max_rows),
            "generation": {"max_new_tokens": int(max_new_tokens)},
            "few_shot": shots,
        },
    }
    if general:
        body["general_version_id"] = int(general)
    if examples:
        body["examples_version_id"] = int(examples)
    return _create(api_url, token, body)


def _create(api_url: str, token: str, body: dict) -> tuple[str, int | None]:
    try:
        job = client_for(api_url, token).create_evaluation(body)
    except ApiError as exc:
        return error_md(exc), None
    return f"Evaluation #{job['id']} queued: follow it here or in **Jobs**.", job["id"]


def show(api_url: str, token: str, evaluation_id, lost_by: str | None):
    """(status markdown, summary markdown, metric figure, wins figure, rows table, lost-by choices)."""
    empty = ("", "", metric_figure({}), wins_figure({}), rows_frame([], {}), [])
    if not evaluation_id:
        return ("Pick an evaluation.", *empty[1:])
    try:
        client = client_for(api_url, token)
        job = client.get_evaluation(int(evaluation_id))
        summary = (job.get("result") or {}).get("summary") or {}
        rows = client.evaluation_rows(int(evaluation_id), lost_by=lost_by or None)["items"] if summary else []
    except ApiError as exc:
        return (error_md(exc), *empty[1:])
    progress = f"{job['current_step']}/{job['total_steps']} answers" if job.get("total_steps") else "waiting"
    status = f"**{job['status']}** · {progress}" + (f" · {job['error']}" if job.get("error") else "")
    names = model_names(summary)
    lost_choices = [(f"rows {names[k]} lost", k) for k in list(names)[1:]]
    return (
        status,
        summary_markdown(summary),
        metric_figure(summary),
        wins_figure(summary),
        rows_frame(rows, summary),
        lost_choices,
    )


def download(api_url: str, token: str, evaluation_id, fmt: str) -> tuple[str | None, str]:
    if not evaluation_id:
        return None, "Pick an evaluation."
    try:
        path = client_for(api_url, token).export_evaluation(int(evaluation_id), fmt, tempfile.mkdtemp())
    except ApiError as exc:
        return None, error_md(exc)
    return str(path), ""


# -- layout and wiring ---------------------------------------------------------------------------------------


@dataclass
class _Form:
    kind: gr.Radio
    baseline: gr.Dropdown
    compared: gr.Dropdown
    refresh: gr.Button
    version: gr.Dropdown
    general: gr.Dropdown
    examples: gr.Dropdown
    graders: gr.CheckboxGroup
    max_rows: gr.Number
    max_new: gr.Number
    shots: gr.Textbox
    launch: gr.Button
    message: gr.Markdown
    model_graders: ModelGraders

    def launch_inputs(self) -> list:
        return [
            self.kind,
            self.baseline,
            self.compared,
            self.version,
            self.general,
            self.examples,
            self.graders,
            self.max_rows,
            self.max_new,
            self.shots,
            *self.model_graders.inputs(),
        ]


@dataclass
class _Results:
    evaluation: gr.Dropdown
    show: gr.Button
    status: gr.Markdown
    summary: gr.Markdown
    metrics_plot: gr.Plot
    wins_plot: gr.Plot
    lost_by: gr.Dropdown
    rows: gr.Dataframe
    fmt: gr.Radio
    download: gr.Button
    file: gr.File

    def shown(self) -> list:
        return [self.status, self.summary, self.metrics_plot, self.wins_plot, self.rows, self.lost_by]


def _build_form() -> _Form:
    kind = gr.Radio(KINDS, value="generation", label="What to measure", elem_id="eval-kind")
    with gr.Row():
        baseline = gr.Dropdown([], label="Baseline model", elem_id="eval-baseline", scale=2)
        compared = gr.Dropdown(
            [], multiselect=True, label="Compared models", elem_id="eval-compared", scale=3
        )
        refresh = gr.Button("Refresh lists", size="sm", scale=0, elem_id="eval-refresh")
    with gr.Row():
        version = gr.Dropdown([], label="Dataset version (rows with references)", elem_id="eval-version")
        general = gr.Dropdown([], label="General set for forgetting (optional)", elem_id="eval-general")
        examples = gr.Dropdown([], label="Solved examples for few-shot (optional)", elem_id="eval-examples")
    with gr.Row():
        graders = gr.CheckboxGroup(
            GRADER_CHOICES,
            value=["rougeL"],
            label="Graders (first = headline)",
            elem_id="eval-graders",
            scale=3,
        )
        max_rows = gr.Number(200, label="Rows", precision=0, minimum=1, maximum=20000, elem_id="eval-rows")
        max_new = gr.Number(128, label="Max new tokens", precision=0, minimum=1, maximum=4096)
        shots = gr.Textbox("", label="Few-shot baselines (k, comma-separated)", placeholder="0, 1, 3")
    model_graders = build_model_graders()
    launch_button = gr.Button("Evaluate", variant="primary", elem_id="eval-launch")
    message = gr.Markdown("", elem_id="eval-launch-message")
    return _Form(
        kind,
        baseline,
        compared,
        refresh,
        version,
        general,
        examples,
        graders,
        max_rows,
        max_new,
        shots,
        launch_button,
        message,
        model_graders,
    )


def _build_results() -> _Results:
    gr.Markdown("### Results")
    with gr.Row():
        evaluation = gr.Dropdown([], label="Evaluation", elem_id="eval-pick", scale=3)
        show_button = gr.Button("Show", scale=0, elem_id="eval-show")
    status = gr.Markdown("", elem_id="eval-status")
    summary = gr.Markdown("", elem_id="eval-summary")
    with gr.Row():
        metrics_plot = gr.Plot(label="Scores", elem_id="eval-metrics-plot")
        wins_plot = gr.Plot(label="Wins, ties and losses", elem_id="eval-wins-plot")
    lost_by = gr.Dropdown(
        [], value=None, label="Show only the rows a model lost (empty: all rows)", elem_id="eval-lost-by"
    )
    rows = gr.Dataframe(wrap=True, interactive=False, elem_id="eval-rows-table", max_height=520)
    with gr.Row():
        fmt = gr.Radio(["csv", "jsonl"], value="csv", label="Download every row as", scale=2)
        download_button = gr.Button("Download", scale=0, elem_id="eval-download")
        file = gr.File(label="File", scale=2, elem_id="eval-file")
    return _Results(
        evaluation,
        show_button,
        status,
        summary,
        metrics_plot,
        wins_plot,
        lost_by,
        rows,
        fmt,
        download_button,
        file,
    )


def build_evaluate_tab(api_url: str, token: gr.State) -> gr.Tab:
    with gr.Tab("Evaluate", id="evaluate", elem_id="tab-evaluate") as tab:
        gr.Markdown(
            "Answer a dataset's rows with a baseline (usually the base model) and the models tuned from it; "
            "graders score every answer, and each tuned model is compared with the baseline row by row."
        )
        form = _build_form()
        results = _build_results()

        def _refresh(token_value):
            models, versions, evals, message = choices(api_url, token_value)
            return (
                *(gr.Dropdown(choices=models) for _ in range(4)),
                *(gr.Dropdown(choices=versions) for _ in range(3)),
                gr.Dropdown(choices=evals),
                message,
            )

        lists = [
            form.baseline,
            form.compared,
            form.model_graders.classifier,
            form.model_graders.judge,
            form.version,
            form.general,
            form.examples,
            results.evaluation,
            form.message,
        ]
        form.refresh.click(_refresh, inputs=token, outputs=lists)
        tab.select(_refresh, inputs=token, outputs=lists)

        def _launch(token_value, *values):
            message, new_id = launch(api_url, token_value, *values)
            if new_id is None:
                return message, gr.skip()
            return message, gr.Dropdown(choices=choices(api_url, token_value)[2], value=new_id)

        form.launch.click(
            _launch, inputs=[token, *form.launch_inputs()], outputs=[form.message, results.evaluation]
        )

        def _show(token_value, evaluation_id, lost):
            *shown, lost_choices = show(api_url, token_value, evaluation_id, lost)
            keep = lost if lost in [value for _, value in lost_choices] else None
            return (*shown, gr.Dropdown(choices=lost_choices, value=keep))

        results.show.click(
            _show, inputs=[token, results.evaluation, results.lost_by], outputs=results.shown()
        )
        results.evaluation.change(
            _show, inputs=[token, results.evaluation, gr.State(None)], outputs=results.shown()
        )
        results.lost_by.input(
            _show, inputs=[token, results.evaluation, results.lost_by], outputs=results.shown()
        )
        results.download.click(
            lambda t, e, f: download(api_url, t, e, f),
            inputs=[token, results.evaluation, results.fmt],
            outputs=[results.file, results.status],
        )
    return tab
