"""The UI's plain handlers, without a browser or a server: the Train form read from the real OpenAPI document,
the validation-report table, the overfitting warning."""

from __future__ import annotations

import pytest

from backend.app import create_app
from backend.config import Settings
from backend.schemas.jobs import JobCreate
from ui.spec_form import build_spec, initial_value, method_forms
from ui.tabs.datasets import report_table
from ui.tabs.jobs import metric_frame, overfitting_warning


@pytest.fixture(scope="module")
def openapi(tmp_path_factory) -> dict:
    return create_app(Settings(home=tmp_path_factory.mktemp("home"))).openapi()


def test_every_method_gets_a_form_with_the_schema_help(openapi):
    forms = method_forms(openapi)
    assert set(forms) == {"sft", "pretrain", "reward", "dpo", "kto", "orpo", "grpo", "rloo", "ppo"}
    sft = {f["path"]: f for f in forms["sft"]["fields"]}
    assert sft["training.learning_rate"]["kind"] == "float" and "learning rate" in sft["training.learning_rate"]["info"]
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
    values.update({"training.max_steps": 6.0, "training.batch_size": "auto", "adapter.target_modules": "q_proj, v_proj"})
    spec = build_spec("sft", fields, [values[f["path"]] for f in fields])
    assert spec["training"]["max_steps"] == 6 and spec["training"]["batch_size"] == "auto"
    assert spec["adapter"]["target_modules"] == ["q_proj", "v_proj"]
    assert "learning_rate" not in spec["training"]  # empty: the server picks the method's default


def test_report_table_lists_kinds_counts_and_rows():
    report = {"errors": [{"kind": "invalid_json", "severity": "error", "count": 7, "message": "Fix the syntax.",
                          "examples": [{"row": 3, "field": None, "preview": "{"}, {"row": 9}]}], "warnings": []}
    table = report_table(report)
    assert table.iloc[0].tolist()[:4] == ["error", "invalid json", 7, "3, 9, …"]


def test_overfitting_warning_only_when_validation_loss_turns_up():
    assert overfitting_warning({"eval_loss": [[1, 2.0], [2, 1.5], [3, 1.4]]}) == ""
    assert "overfitting" in overfitting_warning({"eval_loss": [[1, 2.0], [2, 1.5], [3, 1.6], [4, 1.7]]})
    assert metric_frame({"loss": [[1, 2.5]]}, ["loss"]).dtypes["value"] == "float64"
