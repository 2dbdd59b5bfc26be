"""Run comparison: curves of every chosen job, only the settings that differ, 404 for an unknown job."""

from __future__ import annotations

import json

import pytest

from backend.db import session_scope
from backend.services import job_runtime
from backend.services.runs import config_diff

ROW = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def _job(api, version_id: int, lr: float) -> int:
    spec = {"method": "sft", "training": {"learning_rate": lr, "max_steps": 5}}
    body = {"base_model_id": api.model_id, "datasets": [{"version_id": version_id}], "spec": spec}
    response = api.post("/api/jobs", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_config_diff_keeps_only_what_differs():
    diff = config_diff({1: {"a": {"b": 1, "c": 2}, "d": 3}, 2: {"a": {"b": 1, "c": 5}}})
    assert diff == [{"setting": "a.c", "values": {1: 2, 2: 5}}, {"setting": "d", "values": {1: 3, 2: None}}]


def test_compare_two_runs(api, settings):
    upload = api.post(
        "/api/datasets", files={"file": ("d.jsonl", "\n".join([json.dumps(ROW)] * 4))}, data={"name": "runs"}
    )
    version_id = upload.json()["versions"][0]["id"]
    first, second = _job(api, version_id, 1e-4), _job(api, version_id, 3e-4)
    with session_scope(settings.database_url) as session:
        for step, loss in enumerate((2.0, 1.5, 1.2), start=1):
            job_runtime.add_metrics(session, first, step, {"loss": loss})
            job_runtime.add_metrics(session, second, step, {"loss": loss - 0.1})
    response = api.get("/api/runs/compare", params={"job_ids": [first, second]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [job["id"] for job in body["jobs"]] == [first, second]
    assert body["metrics"][str(first)]["loss"] == [[1, 2.0], [2, 1.5], [3, 1.2]]
    assert body["metrics"][str(second)]["loss"][-1] == [3, pytest.approx(1.1)]
    settings_that_differ = {row["setting"] for row in body["config_diff"]}
    assert settings_that_differ == {"spec.training.learning_rate"}
    assert body["evaluations"] == []
    assert api.get("/api/runs/compare", params={"job_ids": [first, 999999]}).status_code == 404
    assert api.get("/api/runs/compare", params={"job_ids": [2**70]}).status_code == 422
    assert api.get("/api/runs/compare").status_code == 422
