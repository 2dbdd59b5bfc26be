"""The UI's plain handlers, without a browser or a server: the Train form read from the real OpenAPI
document, the validation-report table, the overfitting warning, dataset lineage / cleaning / export /
profile / template preview (against an in-process fake of the API), mixtures, memory estimates and the method
metrics of a job."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from backend.schemas.datasets import VersionOperation
from backend.schemas.jobs import JobCreate
from ui.client import AfinaClient
from ui.spec_form import build_spec, initial_value, method_forms
from ui.tabs.datasets import clean as ds_clean
from ui.tabs.datasets import export as ds_export
from ui.tabs.datasets import profile as ds_profile
from ui.tabs.datasets import template as ds_template
from ui.tabs.datasets import versions as ds_versions
from ui.tabs.datasets.upload import report_table
from ui.tabs.jobs.metrics import (
    default_metrics,
    metric_frame,
    metric_options,
    overfitting_warning,
    picked_metrics,
)
from ui.tabs.jobs.view import checkpoints_table, error_html
from ui.tabs.train.handlers import memory_md, mixture, weights_frame


@pytest.fixture(scope="module")
def openapi(tmp_path_factory) -> dict:
    return create_app(Settings(home=tmp_path_factory.mktemp("home"))).openapi()


def test_every_method_gets_a_form_with_the_schema_help(openapi):
    forms = method_forms(openapi)
    assert set(forms) == {"sft", "pretrain", "reward", "dpo", "kto", "orpo", "grpo", "rloo", "ppo"}
    sft = {f["path"]: f for f in forms["sft"]["fields"]}
    assert (
        sft["training.learning_rate"]["kind"] == "float"
        and "learning rate" in sft["training.learning_rate"]["info"]
    )
    assert sft["adapter.type"]["choices"] == ["none", "lora", "dora", "qlora", "prompt_tuning"]
    assert sft["training.batch_size"]["kind"] == "text"  # int | "auto"
    assert {f["name"] for f in forms["dpo"]["fields"] if f["section"] == "method"} >= {"beta", "loss_type"}


@pytest.mark.parametrize("method", ["sft", "dpo", "grpo", "ppo"])
def test_the_form_defaults_make_a_spec_the_api_accepts(openapi, method):
    fields = method_forms(openapi)[method]["fields"]
    spec = build_spec(method, fields, [initial_value(f) for f in fields])
    JobCreate.model_validate({"base_model_id": 1, "datasets": [{"version_id": 1}], "spec": spec})


def test_form_values_are_typed_on_the_way_out(openapi):
    fields = method_forms(openapi)["sft"]["fields"]
    values = {f["path"]: initial_value(f) for f in fields}
    values.update(
        {"training.max_steps": 6.0, "training.batch_size": "auto", "adapter.target_modules": "q_proj, v_proj"}
    )
    spec = build_spec("sft", fields, [values[f["path"]] for f in fields])
    assert spec["training"]["max_steps"] == 6 and spec["training"]["batch_size"] == "auto"
    assert spec["adapter"]["target_modules"] == ["q_proj", "v_proj"]
    assert "learning_rate" not in spec["training"]  # empty: the server picks the method's default


def test_report_table_lists_kinds_counts_and_rows():
    report = {
        "errors": [
            {
                "kind": "invalid_json",
                "severity": "error",
                "count": 7,
                "message": "Fix the syntax.",
                "examples": [{"row": 3, "field": None, "preview": "{"}, {"row": 9}],
            }
        ],
        "warnings": [],
    }
    table = report_table(report)
    assert table.iloc[0].tolist()[:4] == ["error", "invalid json", 7, "3, 9, …"]


def test_overfitting_warning_only_when_validation_loss_turns_up():
    assert overfitting_warning({"eval_loss": [[1, 2.0], [2, 1.5], [3, 1.4]]}) == ""
    assert "overfitting" in overfitting_warning({"eval_loss": [[1, 2.0], [2, 1.5], [3, 1.6], [4, 1.7]]})
    assert metric_frame({"loss": [[1, 2.5]]}, ["loss"]).dtypes["value"] == "float64"


# -- Datasets: lineage, cleaning, export, profile, template preview ------------------------------------------


def _fake_api(monkeypatch, module, routes: dict):
    """Point a tab module's client at an in-process fake of the routes it calls.

    routes: {(method, path): response}.
    """
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = routes[(request.method, request.url.path)]
        return answer(request) if callable(answer) else answer

    transport = httpx.MockTransport(handle)
    monkeypatch.setattr(module, "client_for", lambda url, token: AfinaClient(url, token, transport=transport))
    return seen


def _version(vid, number, *, parent=None, operation=None, split=None, rows=10, profile=None):
    return {
        "id": vid,
        "dataset_id": 1,
        "version": number,
        "parent_id": parent,
        "format": "chat",
        "split": split,
        "row_count": rows,
        "size_bytes": 100,
        "sha256": "",
        "report": {},
        "profile": profile,
        "operation": operation or {"op": "upload", "filename": "chat.jsonl"},
        "created_at": "2026-01-02T03:04:05",
    }


def test_versions_table_shows_lineage_newest_first():
    split = {"op": "split", "params": {"val_fraction": 0.2, "seed": 7}, "stats": {"removed": 0}}
    dedup = {"op": "dedup_exact", "params": {}, "stats": {"removed": 3}}
    dataset = {
        "name": "chat",
        "versions": [
            _version(1, 1),
            _version(2, 2, parent=1, operation=dedup),
            _version(3, 3, parent=2, operation=split, split="train"),
            _version(4, 4, parent=2, operation=split, split="validation"),
        ],
    }
    table = ds_versions.versions_table(dataset, selected_id=3)
    assert table["Version"].tolist() == ["v4", "▶ v3", "v2", "v1"]
    assert table["Made from"].tolist() == ["v2", "v2", "v1", "—"]
    assert table["Split"].tolist()[:2] == ["validation", "train"]
    assert table.iloc[2]["How it was made"] == "exact dedup: 3 rows removed"
    assert "20% to validation, seed 7" in table.iloc[0]["How it was made"]
    assert table.iloc[3]["How it was made"] == "upload of chat.jsonl"
    text = ds_versions.lineage_md(dataset["versions"][2], dataset)
    assert text.index("**v1**") < text.index("**v2**") < text.index("**v3**")


def test_operation_bodies_carry_only_their_parameters():
    assert ds_clean.operation_body("dedup_exact", 0.8, 5, 9, 0.3, 1) == {"op": "dedup_exact"}
    assert ds_clean.operation_body("dedup_near", 0.8) == {"op": "dedup_near", "threshold": 0.8}
    assert ds_clean.operation_body("filter_length", None, 10.0, None) == {
        "op": "filter_length",
        "min_chars": 10,
    }
    assert ds_clean.operation_body("split", val_fraction=0.25, seed=3.0) == {
        "op": "split",
        "val_fraction": 0.25,
        "seed": 3,
    }
    for op in ("dedup_exact", "dedup_near", "filter_length", "split"):  # what the server accepts
        VersionOperation.model_validate(ds_clean.operation_body(op, 0.9, 0, 100, 0.1, 0))


def test_run_operation_shows_new_versions_and_removed_rows(monkeypatch):
    stats = {
        "operation": "dedup_exact",
        "rows_in": 5,
        "rows_out": 3,
        "removed": 2,
        "examples": [{"row": 4, "reason": "duplicate of row 1", "preview": '{"text": "a"}'}],
    }
    op = {"op": "dedup_exact", "params": {}, "stats": stats}
    seen = _fake_api(
        monkeypatch,
        ds_clean,
        {
            ("POST", "/api/datasets/versions/7/operations"): httpx.Response(
                201, json=[_version(8, 2, parent=7, operation=op, rows=3)]
            )
        },
    )
    text, removed, created = ds_clean.run_operation("http://api", "t", 7, "dedup_exact")
    assert created == [8] and json.loads(seen[0].content) == {"op": "dedup_exact"}
    assert "v2" in text and "2 row(s) removed" in text
    assert removed.iloc[0].tolist() == [4, "duplicate of row 1", '{"text": "a"}']

    _fake_api(
        monkeypatch,
        ds_clean,
        {
            ("POST", "/api/datasets/versions/7/operations"): httpx.Response(
                422, json={"message": "'split' would leave the validation with no rows", "code": "invalid"}
            )
        },
    )
    text, removed, created = ds_clean.run_operation("http://api", "t", 7, "split", val_fraction=0.01)
    assert created == [] and "no rows" in text and removed.empty


def test_export_downloads_with_the_token_into_a_named_file(monkeypatch):
    def export(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer t" and request.url.params["fmt"] == "parquet"
        return httpx.Response(
            200,
            content=b"PAR1data",
            headers={"content-disposition": 'attachment; filename="chat-v2.parquet"'},
        )

    _fake_api(monkeypatch, ds_export, {("GET", "/api/datasets/versions/5/export"): export})
    path, message = ds_export.export_file("http://api", "t", 5, "parquet")
    assert Path(path).name == "chat-v2.parquet" and Path(path).read_bytes() == b"PAR1data"
    assert "chat-v2.parquet" in message

    _fake_api(
        monkeypatch,
        ds_export,
        {
            ("GET", "/api/datasets/versions/5/export"): httpx.Response(
                404, json={"message": "dataset version 5 not found", "code": "not_found"}
            )
        },
    )
    path, message = ds_export.export_file("http://api", "t", 5, "jsonl")
    assert path is None and "not found" in message


def test_profile_view_summarises_and_warns_over_max_length():
    profile = {
        "row_count": 4,
        "tokens_mean": 30.5,
        "tokens_p50": 20,
        "tokens_p95": 90,
        "tokens_max": 90,
        "max_length": 64,
        "share_over_max_length": 0.25,
        "samples": [{"text": "hello"}],
        "histogram": [{"from": 0, "to": 5, "rows": 3}, {"from": 5, "to": 10, "rows": 1}],
    }
    text, histogram, samples = ds_profile.profile_view(profile)
    assert "**4** rows" in text and "p95 **90**" in text and "1 row(s) (25.0%) are longer than 64" in text
    assert histogram.to_dict("list") == {"tokens": ["0–4", "5–9"], "rows": [3, 1]}
    assert samples["text"].tolist() == ["hello"]
    fits, _, _ = ds_profile.profile_view({**profile, "share_over_max_length": 0.0})
    assert "Every row fits in 64 tokens" in fits
    assert "No token profile yet" in ds_profile.profile_view(None)[0]


def test_template_preview_highlights_the_trained_tokens(monkeypatch):
    result = {
        "row": 2,
        "text": "Q A",
        "num_tokens": 3,
        "num_loss_tokens": 1,
        "tokens": [
            {"id": 1, "token": "Q", "loss": False},
            {"id": 2, "token": " ", "loss": False},
            {"id": 3, "token": "A", "loss": True},
        ],
    }
    seen = _fake_api(
        monkeypatch,
        ds_template,
        {
            ("POST", "/api/datasets/versions/9/preview"): httpx.Response(
                202, json={"id": 1, "status": "succeeded", "result": result, "error": None}
            )
        },
    )
    text, tokens = ds_template.template_preview("http://api", "t", 9, 1, 3, "chatml", 128, "assistant")
    assert tokens == [("Q", "context"), (" ", "context"), ("A", "trained on")]
    assert "**3** tokens" in text and "**1** trained on" in text and "Row 3" in text
    assert json.loads(seen[0].content) == {
        "model_id": 1,
        "row": 2,
        "chat_template": "chatml",
        "max_length": 128,
        "loss_on": "assistant",
    }
    _fake_api(
        monkeypatch,
        ds_template,
        {
            ("POST", "/api/datasets/versions/9/preview"): httpx.Response(
                202, json={"id": 1, "status": "failed", "result": None, "error": "row 99 is past the end"}
            )
        },
    )
    text, tokens = ds_template.template_preview("http://api", "t", 9, 1, 100, "model", 128, "all")
    assert tokens == [] and "past the end" in text


# -- Train: mixtures and the memory estimate -----------------------------------------------------------------


def test_mixture_weights_come_from_the_table():
    table = weights_frame([3, 5], {3: "a v1", 5: "b v1"}).astype({"Weight": object})
    table.loc[1, "Weight"] = "3"  # edited in the browser: a string
    refs = mixture([3, 5], table)
    assert refs == [{"version_id": 3, "weight": 1.0}, {"version_id": 5, "weight": 3.0}]
    JobCreate.model_validate({"base_model_id": 1, "datasets": refs, "spec": {"method": "sft"}})
    assert weights_frame([5, 7], {}, table)["Weight"].tolist() == [3.0, 1.0]  # kept across a new pick
    table.loc[0, "Weight"] = "0"
    with pytest.raises(ValueError, match="above 0"):
        mixture([3, 5], table)


def test_memory_estimate_lists_total_device_and_breakdown():
    text = memory_md(
        {
            "total_bytes": 3 * 2**30,
            "total_gb": 3.0,
            "params": 1000,
            "trainable_params": 10,
            "precision": "bf16",
            "breakdown": {"weights": 2**30, "optimizer_states": 2 * 2**30},
            "device": {"device": "cuda", "name": "NVIDIA H100", "memory_bytes": 80 * 2**30},
        }
    )
    assert "**Memory estimate: 3 GB** on **NVIDIA H100** (80.0 GB, 4% of it)" in text
    assert "weights 1.0 GB · optimizer states 2.0 GB" in text
    assert memory_md(None) == ""


# -- Jobs: method metrics, checkpoints, errors ---------------------------------------------------------------


def test_metric_picker_offers_what_the_method_reports():
    metrics = {
        "loss": [[1, 1.0]],
        "learning_rate": [[1, 0.1]],
        "rewards/chosen": [[1, 0.2]],
        "rewards/rejected": [[1, -0.1]],
        "grad_norm": [[1, 3.0]],
        "kl": [[1, 0.01]],
        "policy_loss": [[1, 1]],
        "custom_metric": [[1, 5.0]],
    }
    options = metric_options(metrics)
    assert options == ["grad_norm", "rewards/chosen", "rewards/rejected", "kl", "custom_metric"]
    assert default_metrics(options) == ["rewards/chosen", "rewards/rejected"]
    assert picked_metrics(options, ["kl", "gone"]) == ["kl"]
    assert picked_metrics(options, ["gone"]) == ["rewards/chosen", "rewards/rejected"]
    frame = metric_frame(metrics, ["kl"])
    assert frame["metric"].tolist() == ["kl"]


def test_checkpoints_and_errors_are_shown():
    table = checkpoints_table(
        [
            {
                "step": 5,
                "metrics": {"loss": 1.23456, "train_runtime": 9.0},
                "created_at": "2026-01-01T00:00:00",
            },
            {"step": 10, "metrics": {"eval_loss": 0.9}, "created_at": "2026-01-01T00:01:00"},
        ]
    )
    assert table["Step"].tolist() == [10, 5]
    assert table.iloc[1]["Metrics"] == "loss 1.235"
    box = error_html("Traceback...\nValueError: <bad>", "failed")
    assert "This job failed" in box and "&lt;bad&gt;" in box
    assert error_html(None, "succeeded") == ""
