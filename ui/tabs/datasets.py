"""Datasets tab: upload a file (validated by the server), read its report, list versions, preview rows; and for
the selected version: its lineage, cleaning and split steps, export, token-length profile and template preview."""

from __future__ import annotations

import html
import json
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from ui.client import ApiError
from ui.tabs.common import client_for, error_md, human_bytes, when

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
LIST_COLUMNS = ["Dataset", "Version", "Version ID", "Format", "Rows", "Size", "Warnings", "Created"]
PREVIEW_PAGE = 20


# -- handlers (plain functions) -------------------------------------------------------------------------------


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


def _version_label(dataset: dict, version: dict) -> str:
    return f"{dataset['name']} v{version['version']} · {version['format']} · {version['row_count']} rows"


def list_datasets(api_url: str, token: str) -> tuple[pd.DataFrame, list[tuple[str, int]], str]:
    """(table of every dataset version, version choices for pickers, message)."""
    if not token:
        return pd.DataFrame([], columns=LIST_COLUMNS), [], ""
    try:
        datasets = client_for(api_url, token).list_datasets()
    except ApiError as exc:
        return pd.DataFrame([], columns=LIST_COLUMNS), [], error_md(exc)
    lines, choices = [], []
    for dataset in datasets:
        for version in sorted(dataset["versions"], key=lambda v: v["version"], reverse=True):
            warnings = sum(i.get("count", 0) for i in (version.get("report") or {}).get("warnings", []))
            lines.append(
                [
                    dataset["name"],
                    f"v{version['version']}",
                    version["id"],
                    version["format"],
                    version["row_count"],
                    human_bytes(version.get("size_bytes")),
                    warnings,
                    when(version.get("created_at")),
                ]
            )
            choices.append((_version_label(dataset, version), version["id"]))
    message = "" if lines else "No datasets yet: upload one above."
    return pd.DataFrame(lines, columns=LIST_COLUMNS), choices, message


def _cell(value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return "<br>".join(
            f"**{html.escape(str(m['role']))}:** {html.escape(str(m.get('content', '')))}" for m in value
        )
    if isinstance(value, dict | list):
        return html.escape(json.dumps(value, ensure_ascii=False))
    return "" if value is None else html.escape(str(value)).replace("\n", "<br>")


def preview_rows(
    api_url: str, token: str, version_id: int | None, page: float | None
) -> tuple[str, pd.DataFrame]:
    """One page of a version's normalised rows as a table (conversations as 'role: text' lines)."""
    if not version_id:
        return "Pick a dataset version to preview its rows.", pd.DataFrame()
    page = max(1, int(page or 1))
    try:
        data = client_for(api_url, token).version_rows(
            int(version_id), offset=(page - 1) * PREVIEW_PAGE, limit=PREVIEW_PAGE
        )
    except ApiError as exc:
        return error_md(exc), pd.DataFrame()
    rows = data.get("rows", [])
    columns = list(dict.fromkeys(k for row in rows for k in row))
    table = pd.DataFrame([[_cell(row.get(c)) for c in columns] for row in rows], columns=columns)
    total = data.get("total", len(rows))
    pages = max(1, -(-total // PREVIEW_PAGE))
    first = (page - 1) * PREVIEW_PAGE + 1 if rows else 0
    return f"Rows {first}–{first + len(rows) - 1 if rows else 0} of {total} · page {page} of {pages}", table


# -- versions, cleaning, export, profile, template preview ----------------------------------------------------

VERSION_COLUMNS = ["Version", "ID", "Split", "Format", "Rows", "Made from", "How it was made", "Created"]
REMOVED_COLUMNS = ["Row", "Reason", "Row content"]
OPERATIONS = [
    ("Exact dedup", "dedup_exact"),
    ("Near dedup", "dedup_near"),
    ("Length filter", "filter_length"),
    ("Train / validation split", "split"),
]
TEMPLATES = [
    ("The model's own", "model"),
    ("ChatML", "chatml"),
    ("Alpaca", "alpaca"),
    ("Llama 3", "llama3"),
    ("Gemma", "gemma"),
]
LOSS_ON = [("Assistant replies", "assistant"), ("Every token", "all")]
TRAINED, CONTEXT = "trained on", "context"
TOKEN_COLOURS = {TRAINED: "#22c55e", CONTEXT: "#e5e7eb"}
HISTOGRAM_COLUMNS = ["tokens", "rows"]
EXPORT_KEEP_S = 3600  # exported files live this long in the temp folder (Gradio serves its own copy)


def _removed(operation: dict) -> int:
    return int((operation.get("stats") or {}).get("removed") or 0)


def describe_operation(operation: dict | None) -> str:
    """How a version was made, in words: 'upload of chat.jsonl', 'exact dedup: 3 rows removed', ..."""
    operation = operation or {}
    op, params = operation.get("op", ""), operation.get("params") or {}
    if op == "upload":
        return f"upload of {operation.get('filename') or 'a file'}"
    if op == "dedup_exact":
        return f"exact dedup: {_removed(operation)} rows removed"
    if op == "dedup_near":
        return (
            f"near dedup (similarity ≥ {params.get('threshold', 0.9):g}): {_removed(operation)} rows removed"
        )
    if op == "filter_length":
        top = params.get("max_chars")
        return (
            f"length filter ({params.get('min_chars', 0)}–{'∞' if top is None else top} chars): "
            f"{_removed(operation)} rows removed"
        )
    if op == "split":
        return f"split: {params.get('val_fraction', 0.1):.0%} to validation, seed {params.get('seed', 0)}"
    return op.replace("_", " ") or "—"


def versions_table(dataset: dict | None, selected_id: int | None = None) -> pd.DataFrame:
    """Every version of a dataset, newest first, with its parent and the step that made it (the lineage)."""
    versions = sorted((dataset or {}).get("versions", []), key=lambda v: v["version"], reverse=True)
    numbers = {v["id"]: v["version"] for v in versions}
    lines = [
        [
            ("▶ " if v["id"] == selected_id else "") + f"v{v['version']}",
            v["id"],
            v.get("split") or "—",
            v["format"],
            v["row_count"],
            f"v{numbers[v['parent_id']]}" if v.get("parent_id") in numbers else "—",
            describe_operation(v.get("operation")),
            when(v.get("created_at")),
        ]
        for v in versions
    ]
    return pd.DataFrame(lines, columns=VERSION_COLUMNS)


def version_context(api_url: str, token: str, version_id: int | None) -> tuple[dict | None, dict | None, str]:
    """(the version, its dataset with every version, message) for the tools under the version picker."""
    if not token or not version_id:
        return None, None, ""
    try:
        client = client_for(api_url, token)
        version = client.get_version(int(version_id))
        return version, client.get_dataset(version["dataset_id"]), ""
    except ApiError as exc:
        return None, None, error_md(exc)


def lineage_md(version: dict | None, dataset: dict | None) -> str:
    if not version or not dataset:
        return "Pick a dataset version to see how it was made."
    numbers = {v["id"]: v for v in dataset["versions"]}
    chain, current = [], version
    while current is not None:
        chain.append(current)
        current = numbers.get(current.get("parent_id"))
    steps = " → ".join(
        f"**v{v['version']}**"
        + ("" if v.get("parent_id") is None else f" ({describe_operation(v.get('operation'))})")
        for v in reversed(chain)
    )
    return (
        f"**{html.escape(dataset['name'])}** has {len(dataset['versions'])} version(s). "
        f"The selected v{version['version']} came from: {steps}"
    )


def operation_body(
    op: str,
    threshold: float | None = None,
    min_chars: float | None = None,
    max_chars: float | None = None,
    val_fraction: float | None = None,
    seed: float | None = None,
) -> dict:
    """The JSON of POST .../operations: only the parameters the chosen step reads (the server has defaults)."""
    body: dict[str, Any] = {"op": op}
    if op == "dedup_near" and threshold is not None:
        body["threshold"] = float(threshold)
    if op == "filter_length":
        body["min_chars"] = int(min_chars or 0)
        if max_chars:
            body["max_chars"] = int(max_chars)
    if op == "split":
        if val_fraction is not None:
            body["val_fraction"] = float(val_fraction)
        body["seed"] = int(seed or 0)
    return body


def removed_table(stats: dict | None) -> pd.DataFrame:
    """The examples an operation gives of what it removed and why."""
    return pd.DataFrame(
        [
            [e.get("row"), e.get("reason", ""), e.get("preview", "")]
            for e in (stats or {}).get("examples") or []
        ],
        columns=REMOVED_COLUMNS,
    )


def run_operation(
    api_url: str,
    token: str,
    version_id: int | None,
    op: str,
    threshold: float | None = None,
    min_chars: float | None = None,
    max_chars: float | None = None,
    val_fraction: float | None = None,
    seed: float | None = None,
) -> tuple[str, pd.DataFrame, list[int]]:
    """Apply one cleaning or split step. Returns (summary markdown, removed-rows table, ids of the new versions)."""
    if not version_id:
        return "**Pick a dataset version first.**", removed_table(None), []
    if op == "filter_length" and max_chars and int(max_chars) < int(min_chars or 0):
        return (
            "**Error:** the longest row kept (max chars) is shorter than the shortest (min chars).",
            removed_table(None),
            [],
        )
    try:
        created = client_for(api_url, token).apply_operation(
            int(version_id), operation_body(op, threshold, min_chars, max_chars, val_fraction, seed)
        )
    except ApiError as exc:
        return error_md(exc), removed_table(None), []
    stats = (created[0].get("operation") or {}).get("stats") or {}
    made = " and ".join(
        f"**v{v['version']}**"
        + (f" ({v['split']})" if v.get("split") else "")
        + f" with {v['row_count']} rows"
        for v in created
    )
    how = describe_operation(created[0].get("operation"))
    lines = [f"### Made {made}", f"{how[:1].upper()}{how[1:]} · {stats.get('rows_in', '?')} rows in."]
    if op != "split":
        shown = len(stats.get("examples") or [])
        lines.append(
            f"{stats.get('removed', 0)} row(s) removed"
            + (f"; the first {shown} are listed below." if shown else ".")
        )
    lines.append("The new version is now selected; the parent is unchanged.")
    return "\n\n".join(lines), removed_table(stats), [v["id"] for v in created]


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
        return None, "**Pick a dataset version first.**"
    root = Path(tempfile.gettempdir()) / "afina-ui-exports"
    root.mkdir(exist_ok=True)
    _purge_old_exports(root)
    try:
        path = client_for(api_url, token).export_version(int(version_id), fmt, tempfile.mkdtemp(dir=root))
    except ApiError as exc:
        return None, error_md(exc)
    return str(
        path
    ), f"Ready: **{html.escape(path.name)}** ({human_bytes(path.stat().st_size)}). Download it below."


def model_choices(api_url: str, token: str) -> list[tuple[str, int]]:
    """Base models whose tokenizer can profile or preview a dataset."""
    if not token:
        return []
    try:
        models = client_for(api_url, token).list_models()
    except ApiError:
        return []
    return [(m["name"], m["id"]) for m in models if not m.get("is_adapter")]


def _rows_table(rows: list[dict]) -> pd.DataFrame:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return pd.DataFrame([[_cell(row.get(c)) for c in columns] for row in rows], columns=columns)


def histogram_frame(profile: dict | None) -> pd.DataFrame:
    """The token-length histogram as bars: one per bin, at the bin's first token count."""
    bins = (profile or {}).get("histogram") or []
    # Numbers, not "0–12" labels: the plot would sort labels alphabetically.
    # Typed even when empty: the plot reads its axis types from the first frame it draws.
    frame = pd.DataFrame([[int(b["from"]), int(b["rows"])] for b in bins], columns=HISTOGRAM_COLUMNS)
    return frame.astype({"tokens": "int64", "rows": "int64"})


def profile_view(profile: dict | None) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """(summary markdown, histogram frame, sample rows table) of a stored or fresh profile."""
    if not profile:
        return (
            (
                "No token profile yet for this version: pick a model (its tokenizer counts the tokens) and "
                "press **Compute profile**."
            ),
            histogram_frame(None),
            pd.DataFrame(),
        )
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
    return "\n\n".join(lines), histogram_frame(profile), _rows_table(profile.get("samples") or [])


def _request_failed(request: dict, what: str) -> str | None:
    """Markdown for an inference request that did not succeed (failed, or still waiting for a worker), else None."""
    if request.get("status") == "succeeded":
        return None
    if request.get("status") == "failed":
        return f"**The {what} failed:** {html.escape(request.get('error') or 'no message')}"
    return (
        f"**The {what} is still {request.get('status', 'queued')}** (request #{request.get('id')}): "
        "no worker has answered yet. Check that an inference worker is running, then try again."
    )


def compute_profile(
    api_url: str,
    token: str,
    version_id: int | None,
    model_id: int | None,
    max_length: float | None,
    chat_template: str,
) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    if not version_id:
        return "**Pick a dataset version first.**", histogram_frame(None), pd.DataFrame()
    if not model_id:
        return "**Pick a model: its tokenizer counts the tokens.**", histogram_frame(None), pd.DataFrame()
    body = {"model_id": int(model_id), "max_length": int(max_length or 1024), "chat_template": chat_template}
    try:
        request = client_for(api_url, token).profile_version(int(version_id), body)
    except ApiError as exc:
        return error_md(exc), histogram_frame(None), pd.DataFrame()
    problem = _request_failed(request, "profile")
    if problem:
        return problem, histogram_frame(None), pd.DataFrame()
    return profile_view(request["result"])


def highlighted_tokens(tokens: list[dict]) -> list[tuple[str, str]]:
    """Tokens as (text, 'trained on' | 'context') pairs for gr.HighlightedText."""
    return [(t["token"], TRAINED if t.get("loss") else CONTEXT) for t in tokens]


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
    """Row `row` (1-based, as the UI counts) as the trainer will see it: (counts markdown, highlighted tokens)."""
    if not version_id:
        return "**Pick a dataset version first.**", []
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
    problem = _request_failed(request, "template preview")
    if problem:
        return problem, []
    result = request["result"]
    total, trained = result.get("num_tokens", 0), result.get("num_loss_tokens", 0)
    share = f" ({trained / total:.0%})" if total else ""
    summary = (
        f"Row {result.get('row', body['row']) + 1} · **{total}** tokens · **{trained}** trained on{share} · "
        f"**{total - trained}** context"
    )
    if total >= body["max_length"]:
        summary += f" · ⚠️ cut at max length {body['max_length']}"
    return summary, highlighted_tokens(result.get("tokens") or [])


# -- layout and wiring ----------------------------------------------------------------------------------------


def build_datasets_tab(api_url: str, token: gr.State) -> gr.Tab:
    with gr.Tab("Datasets", id="datasets", elem_id="tab-datasets") as tab:
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
                upload = gr.Button("Upload and validate", variant="primary", elem_id="dataset-upload")
            with gr.Column(scale=3, min_width=420):
                gr.Markdown("### Validation report")
                summary = gr.Markdown(
                    "Upload a file to see its report here.", elem_id="dataset-report-summary"
                )
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
        gr.Markdown("### Your datasets")
        with gr.Row():
            list_message = gr.Markdown("", elem_id="dataset-list-message")
            refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="dataset-refresh")
        listing = gr.Dataframe(
            pd.DataFrame([], columns=LIST_COLUMNS),
            interactive=False,
            elem_id="dataset-list",
            max_height=300,
            show_label=False,
        )
        gr.Markdown("### Work with a version")
        version = gr.Dropdown(
            [],
            value=None,
            label="Dataset version",
            elem_id="dataset-version",
            info="Every tool below works on this version; a cleaning step selects its result.",
        )
        with gr.Tabs(elem_id="dataset-tools"):
            with gr.Tab("Rows", id="ds-rows", elem_id="dataset-tab-rows"):
                with gr.Row(equal_height=True):
                    preview_info = gr.Markdown("", elem_id="dataset-preview-info")
                    page = gr.Number(
                        1,
                        label="Page",
                        precision=0,
                        minimum=1,
                        elem_id="dataset-page",
                        scale=0,
                        min_width=120,
                    )
                preview = gr.Dataframe(
                    pd.DataFrame(),
                    interactive=False,
                    wrap=True,
                    elem_id="dataset-preview",
                    max_height=500,
                    show_label=False,
                    visible=False,
                )
            with gr.Tab("Versions & lineage", id="ds-versions", elem_id="dataset-tab-versions"):
                lineage = gr.Markdown(
                    "Pick a dataset version to see how it was made.", elem_id="dataset-lineage"
                )
                versions = gr.Dataframe(
                    versions_table(None),
                    interactive=False,
                    wrap=True,
                    show_label=False,
                    elem_id="dataset-versions",
                    max_height=360,
                    column_widths=["9%", "6%", "9%", "9%", "7%", "9%", "36%", "15%"],
                )
            with (
                gr.Tab("Clean & split", id="ds-clean", elem_id="dataset-tab-clean"),
                gr.Row(equal_height=False),
            ):
                with gr.Column(scale=2, min_width=320):
                    op = gr.Radio(
                        OPERATIONS,
                        value="dedup_exact",
                        label="Step",
                        elem_id="dataset-op",
                        info="Each step makes new version(s); the selected one is never changed.",
                    )
                    with gr.Group(visible=False) as near_params:
                        threshold = gr.Slider(
                            0.5,
                            1.0,
                            value=0.9,
                            step=0.01,
                            label="Similarity threshold",
                            info="MinHash Jaccard similarity at which two rows count as duplicates.",
                            elem_id="dataset-op-threshold",
                        )
                    with gr.Row(visible=False) as length_params:
                        min_chars = gr.Number(
                            0, label="Min chars", precision=0, minimum=0, elem_id="dataset-op-min-chars"
                        )
                        max_chars = gr.Number(
                            None,
                            label="Max chars",
                            precision=0,
                            minimum=1,
                            placeholder="no limit",
                            elem_id="dataset-op-max-chars",
                        )
                    with gr.Row(visible=False) as split_params:
                        val_fraction = gr.Slider(
                            0.01,
                            0.5,
                            value=0.1,
                            step=0.01,
                            label="Validation share",
                            elem_id="dataset-op-val-fraction",
                        )
                        seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="dataset-op-seed")
                    apply = gr.Button("Apply", variant="primary", elem_id="dataset-op-apply")
                with gr.Column(scale=3, min_width=420):
                    op_result = gr.Markdown(
                        "Pick a step and press **Apply**: the result and what was removed show here.",
                        elem_id="dataset-op-result",
                    )
                    removed = gr.Dataframe(
                        removed_table(None),
                        label="Removed rows (examples)",
                        interactive=False,
                        wrap=True,
                        elem_id="dataset-op-removed",
                        max_height=320,
                        visible=False,
                        column_widths=["8%", "30%", "62%"],
                    )
            with gr.Tab("Token profile", id="ds-profile", elem_id="dataset-tab-profile"):
                with gr.Row(equal_height=True):
                    profile_model = gr.Dropdown(
                        [], value=None, label="Tokenizer of model", elem_id="dataset-profile-model", scale=2
                    )
                    profile_template = gr.Dropdown(
                        TEMPLATES,
                        value="model",
                        label="Chat template",
                        elem_id="dataset-profile-template",
                        scale=1,
                    )
                    profile_max = gr.Number(
                        1024,
                        label="Max length (tokens)",
                        precision=0,
                        minimum=16,
                        elem_id="dataset-profile-max-length",
                        scale=1,
                    )
                    profile_run = gr.Button(
                        "Compute profile",
                        variant="primary",
                        scale=0,
                        min_width=160,
                        elem_id="dataset-profile-run",
                    )
                profile_summary = gr.Markdown(profile_view(None)[0], elem_id="dataset-profile-summary")
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
                    x_axis_format="d",
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
            with gr.Tab("Template preview", id="ds-template", elem_id="dataset-tab-template"):
                with gr.Row(equal_height=True):
                    tpl_model = gr.Dropdown(
                        [], value=None, label="Tokenizer of model", elem_id="dataset-template-model", scale=2
                    )
                    tpl_template = gr.Dropdown(
                        TEMPLATES,
                        value="model",
                        label="Chat template",
                        elem_id="dataset-template-template",
                        scale=1,
                    )
                    tpl_loss_on = gr.Dropdown(
                        LOSS_ON,
                        value="assistant",
                        label="Loss on",
                        elem_id="dataset-template-loss-on",
                        scale=1,
                    )
                with gr.Row(equal_height=True):
                    tpl_row = gr.Number(
                        1, label="Row", precision=0, minimum=1, elem_id="dataset-template-row", scale=1
                    )
                    tpl_max = gr.Number(
                        1024,
                        label="Max length (tokens)",
                        precision=0,
                        minimum=16,
                        elem_id="dataset-template-max-length",
                        scale=1,
                    )
                    tpl_run = gr.Button(
                        "Show tokens",
                        variant="primary",
                        scale=0,
                        min_width=160,
                        elem_id="dataset-template-run",
                    )
                tpl_summary = gr.Markdown(
                    "The row exactly as training tokenizes it: tokens that carry the loss are highlighted.",
                    elem_id="dataset-template-summary",
                )
                tokens = gr.HighlightedText(
                    [],
                    label="Tokens",
                    show_legend=True,
                    show_inline_category=False,
                    color_map=TOKEN_COLOURS,
                    elem_id="dataset-template-tokens",
                )
            with gr.Tab("Export", id="ds-export", elem_id="dataset-tab-export"):
                with gr.Row(equal_height=True):
                    export_fmt = gr.Radio(
                        [("JSONL", "jsonl"), ("Parquet", "parquet")],
                        value="jsonl",
                        label="Format",
                        elem_id="dataset-export-format",
                        scale=1,
                    )
                    export_run = gr.Button(
                        "Prepare download",
                        variant="primary",
                        scale=0,
                        min_width=180,
                        elem_id="dataset-export-run",
                    )
                export_message = gr.Markdown(
                    "The normalised rows of the selected version; "
                    "`datasets.load_dataset` reads either format back.",
                    elem_id="dataset-export-message",
                )
                export_out = gr.File(
                    label="Download", interactive=False, elem_id="dataset-export-file", height=80
                )
        new_version = gr.State(
            None
        )  # inside the tab: anything placed directly in a gr.Tabs becomes a phantom tab

    def _refresh(token_value: str, selected: int | None = None, current: int | None = None):
        """Reload the list; select `selected` (a new version) if given, else keep `current`."""
        table, choices, message = list_datasets(api_url, token_value)
        ids = [vid for _, vid in choices]
        value = next((v for v in (selected, current) if v in ids), ids[0] if ids else None)
        return table, gr.Dropdown(choices=choices, value=value), message

    def _models(token_value: str, profile_id: int | None, tpl_id: int | None):
        choices = model_choices(api_url, token_value)
        ids = [mid for _, mid in choices]
        return tuple(
            gr.Dropdown(choices=choices, value=v if v in ids else (ids[0] if ids else None))
            for v in (profile_id, tpl_id)
        )

    refresh_outputs = [listing, version, list_message]
    models_wiring = {
        "fn": _models,
        "inputs": [token, profile_model, tpl_model],
        "outputs": [profile_model, tpl_model],
    }
    token.change(_refresh, inputs=token, outputs=refresh_outputs)
    token.change(**models_wiring)
    tab.select(_refresh, inputs=[token, version], outputs=refresh_outputs)
    tab.select(**models_wiring)
    refresh.click(_refresh, inputs=[token, version], outputs=refresh_outputs)

    def _upload(*args):
        text, table, version_id = upload_dataset(api_url, *args)
        return text, gr.Dataframe(table, visible=not table.empty), version_id

    upload.click(
        _upload,
        inputs=[token, file, name, description, fmt, mapping, options],
        outputs=[summary, report, new_version],
    ).then(
        lambda: None,
        outputs=file,  # ready for the next file (a refused one must be fixed anyway)
    ).then(_refresh, inputs=[token, new_version, version], outputs=refresh_outputs)
    show = partial(preview_rows, api_url)

    def _show(token_value, version_id, page_number):
        info, table = show(token_value, version_id, page_number)
        return info, gr.Dataframe(table, visible=not table.empty, datatype="markdown")

    def _histogram(frame: pd.DataFrame) -> gr.BarPlot:
        # x_bin = the server's bin width draws each bin as a bar across its token range. (Labelled bins would be
        # sorted alphabetically, and updating `sort` leaves Gradio 6.31's plot empty.)
        width = int(frame["tokens"].iloc[1] - frame["tokens"].iloc[0]) if len(frame) > 1 else 1
        return gr.BarPlot(frame, x_bin=width)

    def _profile_outputs(text: str, frame: pd.DataFrame, table: pd.DataFrame):
        return text, _histogram(frame), gr.Dataframe(table, visible=not table.empty, datatype="markdown")

    def _context(token_value, version_id):
        """Everything under the picker that belongs to one version: lineage, stored profile; stale results go."""
        selected, dataset, message = version_context(api_url, token_value, version_id)
        return (
            message or lineage_md(selected, dataset),
            versions_table(dataset, version_id),
            *_profile_outputs(*profile_view((selected or {}).get("profile"))),
            "The row exactly as training tokenizes it: tokens that carry the loss are highlighted.",
            [],
            None,
            "",
        )

    version.change(
        lambda t, v: (1, *_show(t, v, 1)), inputs=[token, version], outputs=[page, preview_info, preview]
    )
    version.change(
        _context,
        inputs=[token, version],
        outputs=[
            lineage,
            versions,
            profile_summary,
            histogram,
            samples,
            tpl_summary,
            tokens,
            export_out,
            export_message,
        ],
    )
    page.submit(_show, inputs=[token, version, page], outputs=[preview_info, preview])

    def _op_params(chosen: str):
        return (
            gr.Group(visible=chosen == "dedup_near"),
            gr.Row(visible=chosen == "filter_length"),
            gr.Row(visible=chosen == "split"),
        )

    op.change(_op_params, inputs=op, outputs=[near_params, length_params, split_params])

    def _apply(token_value, version_id, *params):
        text, table, created = run_operation(api_url, token_value, version_id, *params)
        return text, gr.Dataframe(table, visible=not table.empty), created[0] if created else None

    apply.click(
        _apply,
        inputs=[token, version, op, threshold, min_chars, max_chars, val_fraction, seed],
        outputs=[op_result, removed, new_version],
    ).then(_refresh, inputs=[token, new_version, version], outputs=refresh_outputs)
    profile_run.click(
        lambda *a: _profile_outputs(*compute_profile(api_url, *a)),
        inputs=[token, version, profile_model, profile_max, profile_template],
        outputs=[profile_summary, histogram, samples],
    )
    tpl_run.click(
        partial(template_preview, api_url),
        inputs=[token, version, tpl_model, tpl_row, tpl_template, tpl_max, tpl_loss_on],
        outputs=[tpl_summary, tokens],
    )
    export_run.click(
        partial(export_file, api_url),
        inputs=[token, version, export_fmt],
        outputs=[export_out, export_message],
    )
    return tab
