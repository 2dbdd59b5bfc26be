"""An evaluation through the REST API on a live studio with a judge and a classifier grader: the tiny model
judges its own answers (greedy verdicts kept per row, unparseable ones counted), and a registered classifier
gives each answer a probability for a chosen label."""

from __future__ import annotations

import json

import pytest

from tests.e2e.slice_helpers import learnable_chat_jsonl, upload, wait_for_job
from worker.training.tiny import build_tiny_encoder


@pytest.fixture(scope="module")
def judged(studio):
    client = studio.client()
    version = upload(client, "judged-set", learnable_chat_jsonl(6))["versions"][0]["id"]
    folder = build_tiny_encoder(studio.settings.models_dir / "tone-classifier", num_labels=2)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"], config["label2id"] = {"0": "rude", "1": "kind"}, {"rude": 0, "kind": 1}
    (folder / "config.json").write_text(json.dumps(config))
    registered = client.post("/api/models", json={"name": "tone-classifier", "path": str(folder)})
    assert registered.status_code == 201, registered.text
    classifier_id = registered.json()["id"]
    body = {
        "model_ids": [studio.tiny_model_id],
        "dataset_version_id": version,
        "spec": {
            "graders": [
                {"kind": "judge", "judge_model_id": studio.tiny_model_id, "judge_max_new_tokens": 12},
                {"kind": "classifier", "classifier_model_id": classifier_id, "label": "kind"},
            ],
            "generation": {"max_new_tokens": 8},
            "batch_size": 4,
        },
    }
    created = client.post("/api/evaluations", json=body)
    assert created.status_code == 201, created.text
    job = wait_for_job(client, created.json()["id"], timeout=400)
    assert job["status"] == "succeeded", client.get(f"/api/jobs/{job['id']}/events").json()
    return client, job, classifier_id


def test_judge_evidence_and_unparseable_count(studio, judged):
    client, job, classifier_id = judged
    summary = client.get(f"/api/evaluations/{job['id']}").json()["result"]["summary"]
    judge, classifier = f"judge_m{studio.tiny_model_id}", f"classifier_m{classifier_id}_kind"
    assert summary["graders"] == [judge, classifier]
    rows = client.get(f"/api/evaluations/{job['id']}/rows", params={"limit": 100}).json()["items"]
    assert len(rows) == 6
    key = f"m{studio.tiny_model_id}"
    outputs = [row["outputs"][key] for row in rows]
    figures = summary["task"]["models"][key]["graders"]
    missing = sum(output["scores"][judge] is None for output in outputs)
    assert figures[judge]["unparseable"] == missing
    assert figures[judge]["n"] == len(rows) - missing
    for output in outputs:
        evidence = output["evidence"][judge]
        assert isinstance(evidence["judge_text"], str)
        assert evidence["parsed"] == (output["scores"][judge] is not None)
        score = output["scores"][judge]
        assert score is None or 0.0 <= score <= 1.0
        assert 0.0 <= output["scores"][classifier] <= 1.0
    exported = client.get(f"/api/evaluations/{job['id']}/export", params={"format": "jsonl"})
    assert exported.status_code == 200 and "judge_text" in exported.text
