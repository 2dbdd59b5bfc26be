"""Train › handlers: the pickers' choices, the mixture of datasets, the memory estimate, and the launch of a
job from the form (plain functions, no Gradio)."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from ui.client import ApiError
from ui.spec_form import SpecError, build_spec
from ui.tabs.common import client_for, error_md, human_bytes

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
    """The `datasets` of POST /api/jobs: each chosen version with the weight given in the table (default
    1)."""
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
