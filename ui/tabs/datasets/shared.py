"""What several Datasets parts use: rows as a readable table, the selected version's context, models."""

from __future__ import annotations

import html
import json
from typing import Any

import pandas as pd

from ui.client import ApiError
from ui.tabs.common import client_for, error_md

PICK_VERSION = "**Pick a dataset version first.**"
TEMPLATES = [
    ("The model's own", "model"),
    ("ChatML", "chatml"),
    ("Alpaca", "alpaca"),
    ("Llama 3", "llama3"),
    ("Gemma", "gemma"),
]


def cell(value: Any) -> str:
    """One field of a row as table-cell markdown: conversations as 'role: text' lines, structures as JSON."""
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return "<br>".join(
            f"**{html.escape(str(m['role']))}:** {html.escape(str(m.get('content', '')))}" for m in value
        )
    if isinstance(value, dict | list):
        return html.escape(json.dumps(value, ensure_ascii=False))
    return "" if value is None else html.escape(str(value)).replace("\n", "<br>")


# The fields a person reads first, in this order; any other field follows in order of first appearance.
LEADING_FIELDS = (
    "prompt",
    "chosen",
    "rejected",
    "messages",
    "instruction",
    "input",
    "output",
    "completion",
    "response",
    "text",
)


def rows_table(rows: list[dict]) -> pd.DataFrame:
    """Rows as a table with one column per field any row has: the fields that carry the text first
    (prompt, chosen, rejected...), then ids and metadata, so what matters is on screen at 1024 px."""
    present = list(dict.fromkeys(k for row in rows for k in row))
    columns = [f for f in LEADING_FIELDS if f in present] + [f for f in present if f not in LEADING_FIELDS]
    return pd.DataFrame([[cell(row.get(c)) for c in columns] for row in rows], columns=columns)


def column_widths(columns: list[str]) -> list[str]:
    """Shares of the table's width: the text fields three parts each, ids and metadata one, so a long answer
    wraps in its own column instead of pushing the next one 1,000 px off-screen."""
    weights = [3 if c in LEADING_FIELDS else 1 for c in columns]
    total = sum(weights) or 1
    return [f"{100 * w / total:.1f}%" for w in weights]


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


def model_choices(api_url: str, token: str) -> list[tuple[str, int]]:
    """Base models whose tokenizer can profile or preview a dataset."""
    if not token:
        return []
    try:
        models = client_for(api_url, token).list_models()
    except ApiError:
        return []
    return [(m["name"], m["id"]) for m in models if not m.get("is_adapter")]


def request_failed(request: dict, what: str) -> str | None:
    """Markdown for an inference request that did not succeed (failed, or still waiting for a worker), else
    None."""
    if request.get("status") == "succeeded":
        return None
    if request.get("status") == "failed":
        return f"**The {what} failed:** {html.escape(request.get('error') or 'no message')}"
    return (
        f"**The {what} is still {request.get('status', 'queued')}** (request #{request.get('id')}): "
        "no worker has answered yet. Check that an inference worker is running, then try again."
    )
