"""Bad input is refused with a 4xx that says what and where, and nothing is stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from backend.db import session_scope
from backend.models import Dataset, DatasetVersion, Job

CHAT_ROW = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def _count(settings, model) -> int:
    with session_scope(settings.database_url) as session:
        return session.scalar(select(func.count()).select_from(model))


def _upload(api, content: bytes, name="set", filename="data.jsonl", **form):
    return api.post("/api/datasets", files={"file": (filename, content)}, data={"name": name, **form})


def _good_dataset(api) -> int:
    rows = "\n".join(json.dumps(CHAT_ROW) for _ in range(4)).encode()
    response = _upload(api, rows, name="good")
    assert response.status_code == 201, response.text
    return response.json()["versions"][0]["id"]


def test_missing_token_is_refused(api):
    response = api.get("/api/jobs", headers={"Authorization": ""})
    assert response.status_code == 401
    assert "token" in response.json()["message"]


def test_wrong_token_is_refused(api):
    response = api.get("/api/jobs", headers={"Authorization": "Bearer afn_not-a-real-token"})
    assert response.status_code == 401


def test_empty_file_is_refused_and_nothing_stored(api, settings):
    response = _upload(api, b"")
    assert response.status_code == 422
    assert "empty" in json.dumps(response.json()).lower()
    assert _count(settings, Dataset) == 0 and _count(settings, DatasetVersion) == 0
    assert (
        not list((settings.artifacts_dir / "datasets").glob("**/*.jsonl"))
        if (settings.artifacts_dir / "datasets").exists()
        else True
    )


def test_invalid_json_on_line_7_names_the_line(api, settings):
    lines = [json.dumps(CHAT_ROW)] * 6 + ['{"messages": [oops'] + [json.dumps(CHAT_ROW)] * 3
    response = _upload(api, "\n".join(lines).encode())
    assert response.status_code == 422
    body = response.json()
    errors = body["details"]["errors"]
    invalid = next(e for e in errors if e["kind"] == "invalid_json")
    assert invalid["examples"][0]["row"] == 7
    assert _count(settings, Dataset) == 0


def test_row_without_messages_names_row_and_field(api, settings):
    lines = [json.dumps(CHAT_ROW)] * 2 + [json.dumps({"text_without_messages": "x"})]
    response = _upload(api, "\n".join(lines).encode(), format="chat")
    assert response.status_code == 422
    errors = response.json()["details"]["errors"]
    missing = next(e for e in errors if e["kind"] == "missing_field")
    assert missing["examples"][0]["row"] == 3
    assert missing["examples"][0]["field"] == "messages"
    assert _count(settings, Dataset) == 0


def _job(api, version_id, **overrides):
    body = {
        "base_model_id": api.model_id,
        "datasets": [{"version_id": version_id}],
        "spec": {"method": "sft", "training": {"max_steps": 2}},
    }
    for path, value in overrides.items():
        target = body
        keys = path.split(".")
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return api.post("/api/jobs", json=body)


@pytest.mark.parametrize(
    ("override", "field", "fragment"),
    [
        ({"spec.training.learning_rate": -1}, "spec.sft.training.learning_rate", "greater than 0"),
        ({"spec.adapter.r": 0}, "spec.sft.adapter.r", "greater than or equal to 1"),
        ({"spec.method": "telepathy"}, "spec", "telepathy"),
        ({"spec.training.batch_size": "lots"}, "spec.sft.training.batch_size", ""),
    ],
)
def test_bad_hyperparameters_are_refused(api, settings, override, field, fragment):
    version_id = _good_dataset(api)
    response = _job(api, version_id, **override)
    assert response.status_code == 422, response.text
    body = response.json()
    assert any(d["field"].startswith(field) for d in body["details"]), body
    assert fragment in body["message"]
    assert _count(settings, Job) == 0


def test_unknown_base_model_is_refused(api, settings):
    version_id = _good_dataset(api)
    response = _job(api, version_id, base_model_id=9999)
    assert response.status_code == 404
    assert "model 9999" in response.json()["message"]
    assert _count(settings, Job) == 0


def test_unknown_dataset_version_is_refused(api, settings):
    response = _job(api, 4242)
    assert response.status_code == 422
    assert response.json()["details"]["field"] == "datasets[0].version_id"
    assert _count(settings, Job) == 0


def test_qlora_is_refused_without_a_gpu(api, settings):
    version_id = _good_dataset(api)
    response = _job(api, version_id, **{"spec.adapter.type": "qlora"})
    assert response.status_code == 422
    assert "CUDA" in response.json()["message"]
    assert _count(settings, Job) == 0


def test_fp16_is_refused_without_a_gpu(api, settings):
    version_id = _good_dataset(api)
    response = _job(api, version_id, **{"spec.training.precision": "fp16"})
    assert response.status_code == 422
    body = response.json()
    assert "fp16" in body["message"] and "CUDA" in body["message"]
    assert body["details"]["field"] == "spec.training.precision"
    assert _count(settings, Job) == 0


def test_job_too_big_for_the_device_is_refused_with_the_estimate(api, settings):
    version_id = _good_dataset(api)
    response = _job(
        api,
        version_id,
        **{"spec.adapter.type": "none", "spec.training.batch_size": 1024, "spec.training.max_length": 131072},
    )
    assert response.status_code == 422
    body = response.json()
    assert "GiB" in body["message"]
    assert body["details"]["estimate"]["total_bytes"] > 0
    assert _count(settings, Job) == 0


def test_a_valid_job_is_stored_queued_with_its_dataset_version(api, settings):
    version_id = _good_dataset(api)
    response = _job(api, version_id)
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["status"] == "queued"
    assert job["datasets"] == [{"version_id": version_id, "weight": 1.0}]
    assert job["spec"]["training"]["learning_rate"] == pytest.approx(2e-4)  # LoRA default filled in
    assert job["spec"]["adapter"]["alpha"] == 2 * job["spec"]["adapter"]["r"]


def test_unknown_upload_option_is_refused_by_name(api, settings):
    response = _upload(api, json.dumps(CHAT_ROW).encode(), options=json.dumps({"max_charz": 10}))
    assert response.status_code == 422
    assert "max_charz" in response.json()["message"]
    assert _count(settings, Dataset) == 0
