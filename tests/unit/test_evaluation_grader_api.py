"""The API checks classifier and judge graders before storing an evaluation: the model must exist and be of
the right kind, the label must be one of the classifier's (the refusal lists them), the rubric and score
range must make sense. Refusals are 422s that name the field, and store nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from backend.db import session_scope
from backend.models import Job
from backend.services import registry
from worker.training.tiny import build_tiny_encoder

ROW = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
LABELS = {"0": "toxic", "1": "polite"}


@pytest.fixture
def setup(api, settings, tmp_path):
    folder = build_tiny_encoder(tmp_path / "cls", num_labels=2)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"], config["label2id"] = LABELS, {v: int(k) for k, v in LABELS.items()}
    (folder / "config.json").write_text(json.dumps(config))
    reward = build_tiny_encoder(tmp_path / "rm", num_labels=1)
    with session_scope(settings.database_url) as session:
        classifier_id = registry.register_model(session, "tone", folder, settings=settings).id
        reward_id = registry.register_model(session, "rm", reward, settings=settings).id
    rows = "\n".join(json.dumps(ROW) for _ in range(3)).encode()
    uploaded = api.post("/api/datasets", files={"file": ("d.jsonl", rows)}, data={"name": "set"})
    assert uploaded.status_code == 201, uploaded.text
    return api, uploaded.json()["versions"][0]["id"], classifier_id, reward_id


def _evaluate(api, version: int, *graders: dict):
    body = {"model_ids": [api.model_id], "dataset_version_id": version, "spec": {"graders": list(graders)}}
    return api.post("/api/evaluations", json=body)


def _jobs(settings) -> int:
    with session_scope(settings.database_url) as session:
        return session.scalar(select(func.count()).select_from(Job))


def test_bad_classifier_and_judge_configs_are_refused(setup, settings):
    api, version, classifier, _ = setup
    cases = [
        (
            {"kind": "classifier", "classifier_model_id": classifier, "label": "happy"},
            ["'happy'", "toxic, polite"],
        ),
        ({"kind": "classifier", "classifier_model_id": classifier}, ["needs a label", "toxic, polite"]),
        (
            {"kind": "classifier", "classifier_model_id": 999999, "label": "toxic"},
            ["999999", "not registered"],
        ),
        (
            {"kind": "classifier", "classifier_model_id": api.model_id, "label": "x"},
            ["not a sequence classifier"],
        ),
        ({"kind": "classifier"}, ["classifier_model_id"]),
        ({"kind": "judge", "judge_model_id": classifier}, ["does not write verdicts"]),
        ({"kind": "judge", "judge_model_id": 999999}, ["999999", "not registered"]),
        ({"kind": "judge", "judge_model_id": api.model_id, "rubric": "Grade {prompt}"}, ["{answer}"]),
        ({"kind": "judge", "judge_model_id": api.model_id, "score_min": 5, "score_max": 5}, ["score_min"]),
        ({"kind": "judge"}, ["judge_model_id"]),
    ]
    before = _jobs(settings)
    for grader, words in cases:
        response = _evaluate(api, version, grader)
        assert response.status_code == 422, (grader, response.text)
        for word in words:
            assert word in response.text, (grader, response.text)
    labels = _evaluate(api, version, {"kind": "classifier", "classifier_model_id": classifier, "label": "x"})
    assert labels.json()["details"]["labels"] == ["toxic", "polite"]
    assert labels.json()["details"]["field"] == "spec.graders[0].label"
    assert _jobs(settings) == before


def test_good_classifier_and_judge_configs_are_queued(setup):
    api, version, classifier, reward = setup
    response = _evaluate(
        api,
        version,
        {"kind": "judge", "judge_model_id": api.model_id},
        {"kind": "classifier", "classifier_model_id": classifier, "label": "polite"},
        {"kind": "classifier", "classifier_model_id": reward},  # one label: LABEL_0, implied
    )
    assert response.status_code == 201, response.text
    graders = response.json()["spec"]["spec"]["graders"]
    assert [g["kind"] for g in graders] == ["judge", "classifier", "classifier"]
    assert graders[0]["score_min"] == 1 and graders[0]["score_max"] == 10


def _grpo(api, version: int, reward: dict):
    spec = {"method": "grpo", "rewards": [reward], "training": {"max_steps": 1}}
    body = {"base_model_id": api.model_id, "datasets": [{"version_id": version}], "spec": spec}
    return api.post("/api/jobs", json=body)


def test_classifier_reward_for_rl_is_checked_like_the_grader(setup, settings):
    api, version, classifier, _ = setup
    before = _jobs(settings)
    refused = _grpo(api, version, {"kind": "classifier", "classifier_model_id": classifier, "label": "x"})
    assert refused.status_code == 422 and "toxic, polite" in refused.json()["message"]
    assert refused.json()["details"]["field"] == "spec.rewards[0].label"
    unknown = _grpo(api, version, {"kind": "classifier", "classifier_model_id": 999999, "label": "x"})
    assert unknown.status_code == 422 and "999999" in unknown.json()["message"]
    assert _grpo(api, version, {"kind": "classifier"}).status_code == 422
    assert _jobs(settings) == before
    queued = _grpo(api, version, {"kind": "classifier", "classifier_model_id": classifier, "label": "polite"})
    assert queued.status_code == 201, queued.text
