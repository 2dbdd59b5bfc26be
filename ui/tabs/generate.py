"""Generate tab: write a dataset with a studio model (Self-Instruct from seed tasks, or Constitutional AI
critique-and-revise over prompts); preview the first rows with a short dry run before the full job."""

from __future__ import annotations

import time
from collections.abc import Callable

import gradio as gr

from ui.client import ApiError
from ui.tabs.common import client_for, error_md

KINDS = [
    ("Self-Instruct: new tasks from seed tasks", "self_instruct"),
    ("Constitutional AI", "constitutional"),
]
FINISHED = ("succeeded", "failed", "cancelled")
#: how long the Preview button waits for its dry run before leaving it to the Check button
PREVIEW_WAIT_S = 90.0


def choices(api_url: str, token: str) -> tuple[list, list, str]:
    """(model choices, dataset version choices, message)."""
    if not token:
        return [], [], ""
    try:
        client = client_for(api_url, token)
        models, sets = client.list_models(), client.list_datasets()
    except ApiError as exc:
        return [], [], error_md(exc)
    model_choices = [(f"{m['name']} (#{m['id']})", m["id"]) for m in reversed(models)]
    versions = [
        (f"{d['name']} v{v['version']} ({v['row_count']} rows · {v['format']})", v["id"])
        for d in sets
        for v in d.get("versions", [])
    ]
    return model_choices, versions, ""


def build_body(
    kind: str, model_id, version_id, name: str, count, rounds, constitution: str, max_new, seed, preview: bool
) -> dict:
    """The POST /api/datagen body from the form; ValueError with a message a person can act on."""
    if not model_id:
        raise ValueError("Pick the generator model.")
    if not version_id:
        raise ValueError("Pick the seed tasks (Self-Instruct) or the prompts (Constitutional AI).")
    body: dict = {
        "kind": kind,
        "generator": {"kind": "studio", "model_id": int(model_id)},
        "source_version_id": int(version_id),
        "generation": {"max_new_tokens": int(max_new), "do_sample": True, "temperature": 0.9, "top_p": 0.95},
        "seed": int(seed or 0),
        "preview": preview,
        "preview_rows": 3,
    }
    if name and name.strip() and not preview:
        body["name"] = name.strip()
    if kind == "self_instruct":
        body["self_instruct"] = {"num_tasks": int(count), "max_requests": max(int(count) * 4, 8)}
    else:
        principles = [line.strip() for line in (constitution or "").splitlines() if line.strip()]
        body["constitutional"] = {"rounds": int(rounds), "max_prompts": int(count)}
        if principles:
            body["constitutional"]["constitution"] = principles
    return body


def preview_table(job: dict) -> list[list[str]]:
    """A finished preview's first rows: tasks (Self-Instruct), original vs revised (Constitutional)."""
    result = job.get("result") or {}
    if job.get("spec", {}).get("kind") == "self_instruct":
        rows = [[r["instruction"], r["input"], r["output"]] for r in result.get("preview", [])]
        return rows or [["(no task passed the filters)", "", s] for s in result.get("samples", [])]
    table = []
    for item in result.get("preview", []):
        prompt = item["prompt"][-1]["content"] if item["prompt"] else ""
        table.append([prompt, item["initial"], item["revised"]])
    return table


def describe(job: dict) -> str:
    result = job.get("result") or {}
    text = f"Job #{job['id']} ({job['method']}): **{job['status']}**"
    if job.get("error"):
        text += f" — {job['error']}"
    if result.get("dataset_version_ids"):
        text += f" — stored dataset version(s) {', '.join(map(str, result['dataset_version_ids']))}"
    if result.get("dropped"):
        text += " — dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(result["dropped"].items()))
    return text


def submit(api_url: str, token: str, *form, preview: bool) -> tuple[str, int | None]:
    try:
        body = build_body(*form, preview=preview)
        job = client_for(api_url, token).create_datagen(body)
    except ValueError as exc:
        return f"**{exc}**", None
    except ApiError as exc:
        return error_md(exc), None
    what = "Preview" if preview else "Generation"
    return f"{what} queued as job #{job['id']} (also listed in Jobs).", job["id"]


def check(api_url: str, token: str, job_id, wait: float = 0.0, sleep: Callable = time.sleep):
    """(status text, preview table) of a generation job, waiting up to `wait` seconds for it to finish."""
    if not job_id:
        return "No generation job yet.", []
    deadline = time.monotonic() + wait
    try:
        client = client_for(api_url, token)
        job = client.get_job(int(job_id))
        while job["status"] not in FINISHED and time.monotonic() < deadline:
            sleep(1.0)
            job = client.get_job(int(job_id))
    except ApiError as exc:
        return error_md(exc), []
    return describe(job), preview_table(job)


def build_generate_tab(api_url: str, token: gr.State) -> gr.Tab:
    with gr.Tab("Generate", id="generate", elem_id="tab-generate") as tab:
        gr.Markdown(
            "Write training data with a studio model. **Self-Instruct** shows the model a few seed tasks and "
            "keeps the new tasks it writes that are novel (ROUGE-L), well-sized and not duplicates. "
            "**Constitutional AI** answers prompts, critiques each answer against a principle and revises "
            "it: the revised answers become SFT rows, and (revised, original) preference pairs."
        )
        with gr.Row():
            kind = gr.Radio(KINDS, value="self_instruct", label="Kind", elem_id="gen-kind")
            refresh = gr.Button("Refresh lists", scale=0)
        with gr.Row():
            model = gr.Dropdown([], label="Generator model", elem_id="gen-model")
            version = gr.Dropdown([], label="Seed tasks or prompts (dataset version)", elem_id="gen-version")
            name = gr.Textbox(label="New dataset name (optional)", elem_id="gen-name")
        with gr.Row():
            count = gr.Number(20, label="Tasks to keep / prompts to use", precision=0, minimum=1)
            rounds = gr.Number(1, label="Critique rounds", precision=0, minimum=1, maximum=8)
            max_new = gr.Number(256, label="Max new tokens", precision=0, minimum=1, maximum=4096)
            seed = gr.Number(0, label="Seed", precision=0, minimum=0)
        constitution = gr.Textbox(
            label="Constitution: one principle per line (empty: the default)", lines=4, elem_id="gen-const"
        )
        with gr.Row():
            preview_button = gr.Button("Preview a few rows", elem_id="gen-preview")
            run_button = gr.Button("Generate dataset", variant="primary", elem_id="gen-run")
            check_button = gr.Button("Check", scale=0, elem_id="gen-check")
        message = gr.Markdown("", elem_id="gen-message")
        job_id = gr.State(None)
        table = gr.Dataframe(
            headers=["Instruction / prompt", "Input / original", "Output / revised"],
            wrap=True,
            interactive=False,
            elem_id="gen-preview-table",
        )
        form = [kind, model, version, name, count, rounds, constitution, max_new, seed]

        def _refresh(token_value):
            models, versions, text = choices(api_url, token_value)
            return gr.Dropdown(choices=models), gr.Dropdown(choices=versions), text

        refresh.click(_refresh, inputs=token, outputs=[model, version, message])
        tab.select(_refresh, inputs=token, outputs=[model, version, message])

        def _preview(token_value, *values):
            text, new_id = submit(api_url, token_value, *values, preview=True)
            if new_id is None:
                return text, None, []
            status, rows = check(api_url, token_value, new_id, wait=PREVIEW_WAIT_S)
            return status, new_id, rows

        def _run(token_value, *values):
            text, new_id = submit(api_url, token_value, *values, preview=False)
            return text, new_id

        preview_button.click(_preview, inputs=[token, *form], outputs=[message, job_id, table])
        run_button.click(_run, inputs=[token, *form], outputs=[message, job_id])
        check_button.click(
            lambda t, j: check(api_url, t, j), inputs=[token, job_id], outputs=[message, table]
        )
    return tab
