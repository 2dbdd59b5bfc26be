"""Labeling through the REST API on SQLite (no workers): campaign from preference data, overlap, skip, drafts,
stale claims, who may read whose labels, quality, export with lineage, the agreement threshold, roles."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from backend.app import create_app
from backend.db import session_scope, utcnow
from backend.models.labeling import LabelingAssignment
from backend.models.users import Role
from backend.services import users
from tests.factories import preference_pairs


def _client(settings, token: str) -> TestClient:
    client = TestClient(create_app(settings))
    client.headers["Authorization"] = f"Bearer {token}"
    return client


@pytest.fixture
def labelers(settings):
    tokens = {}
    with session_scope(settings.database_url) as session:
        for name in ("ann", "bob", "cat"):
            user, _ = users.create_user(session, name, Role.labeler, "labeler-pass")
            tokens[name] = users.issue_token(session, user)
    return {name: _client(settings, token) for name, token in tokens.items()}


def _campaign(api, n: int = 4, **overrides) -> dict:
    rows = "\n".join(json.dumps(r) for r in preference_pairs(n, seed=3)).encode()
    uploaded = api.post("/api/datasets", files={"file": ("prefs.jsonl", rows)}, data={"name": "prefs"})
    assert uploaded.status_code == 201, uploaded.text
    body = {
        "name": "helpfulness",
        "guidelines": "# Pick the more helpful answer",
        "mode": "pairwise",
        "version_id": uploaded.json()["versions"][0]["id"],
        "overlap": 2,
        **overrides,
    }
    created = api.post("/api/labeling/campaigns", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def _prefer_chosen(api, campaign_id: int, item: dict) -> dict:
    """The position (A/B) of the candidate that came from the `chosen` column."""
    items = {i["id"]: i for i in api.get(f"/api/labeling/campaigns/{campaign_id}/items").json()}
    chosen = next(
        c["text"] for c in items[item["item_id"]]["candidates"] if c["provenance"]["field"] == "chosen"
    )
    return {"choice": "A" if item["candidates"][0]["text"] == chosen else "B"}


def _label_all(api, labeler, campaign_id: int, answer=None) -> list[int]:
    done = []
    while True:
        got = labeler.post(f"/api/labeling/campaigns/{campaign_id}/next")
        if got.status_code == 204:
            return done
        assert got.status_code == 200, got.text
        item = got.json()
        if callable(answer):
            answer_now = answer(item, len(done))
        else:
            answer_now = answer or _prefer_chosen(api, campaign_id, item)
        body = {"answer": answer_now, "seconds": 3.5}
        sent = labeler.post(
            f"/api/labeling/campaigns/{campaign_id}/assignments/{item['assignment_id']}/submit", json=body
        )
        assert sent.status_code == 200, sent.text
        done.append(item["item_id"])


def test_overlap_is_respected_and_nobody_sees_an_item_twice(api, labelers):
    campaign = _campaign(api, n=4)
    assert campaign["k"] == 2 and campaign["status"] == "open"
    seen = {name: _label_all(api, client, campaign["id"]) for name, client in labelers.items()}
    for items in seen.values():
        assert len(items) == len(set(items))
    counts = [sum(i in items for items in seen.values()) for i in {i for v in seen.values() for i in v}]
    assert sorted(counts) == [2, 2, 2, 2]  # 4 items x overlap 2, none over
    progress = api.get(f"/api/labeling/campaigns/{campaign['id']}").json()["progress"]
    assert progress["labels"] == 8 and progress["complete_items"] == 4


def test_labelers_see_no_model_names_and_positions_are_shuffled_per_assignment(api, labelers):
    campaign = _campaign(api, n=20, overlap=1)
    chosen_first = []
    for _ in range(20):
        got = labelers["ann"].post(f"/api/labeling/campaigns/{campaign['id']}/next").json()
        assert "provenance" not in json.dumps(got) and "model" not in json.dumps(got)
        assert got["prompt"][0]["role"] == "user" and got["mode"] == "pairwise"
        chosen_first.append(_prefer_chosen(api, campaign["id"], got)["choice"] == "A")
        url = f"/api/labeling/campaigns/{campaign['id']}/assignments/{got['assignment_id']}/submit"
        assert labelers["ann"].post(url, json={"answer": {"choice": "tie"}}).status_code == 200
    assert 0 < sum(chosen_first) < 20  # the chosen answer is sometimes left, sometimes right


def test_a_labeler_reads_other_labels_only_after_submitting_their_own(api, labelers):
    campaign = _campaign(api, n=1)
    cid = campaign["id"]
    ann, bob = labelers["ann"], labelers["bob"]
    first = ann.post(f"/api/labeling/campaigns/{cid}/next").json()
    ann.post(
        f"/api/labeling/campaigns/{cid}/assignments/{first['assignment_id']}/submit",
        json={"answer": {"choice": "A"}},
    )
    second = bob.post(f"/api/labeling/campaigns/{cid}/next").json()
    assert second["item_id"] == first["item_id"]
    refused = bob.get(f"/api/labeling/campaigns/{cid}/items/{first['item_id']}/labels")
    assert refused.status_code == 403 and "submit your own label" in refused.json()["message"]
    bob.post(
        f"/api/labeling/campaigns/{cid}/assignments/{second['assignment_id']}/submit",
        json={"answer": {"choice": "tie"}},
    )
    assert len(bob.get(f"/api/labeling/campaigns/{cid}/items/{first['item_id']}/labels").json()) == 2
    # a third labeler finds nothing left (overlap 2) and cannot read the labels either
    assert labelers["cat"].post(f"/api/labeling/campaigns/{cid}/next").status_code == 204
    assert (
        labelers["cat"].get(f"/api/labeling/campaigns/{cid}/items/{first['item_id']}/labels").status_code
        == 403
    )


def test_skip_draft_and_stale_claims_free_the_slot(api, labelers, settings):
    campaign = _campaign(api, n=1, overlap=1, claim_timeout_s=60)
    cid = campaign["id"]
    ann, bob, cat = labelers["ann"], labelers["bob"], labelers["cat"]
    got = ann.post(f"/api/labeling/campaigns/{cid}/next").json()
    assert bob.post(f"/api/labeling/campaigns/{cid}/next").status_code == 204  # the one slot is taken
    draft = {"answer": {"choice": "B"}, "flags": {"1": ["harmful"]}}
    assert (
        ann.put(
            f"/api/labeling/campaigns/{cid}/assignments/{got['assignment_id']}/draft", json=draft
        ).status_code
        == 200
    )
    again = ann.post(f"/api/labeling/campaigns/{cid}/next").json()
    assert again["assignment_id"] == got["assignment_id"] and again["draft"]["answer"] == {"choice": "B"}
    assert again["draft"]["flags"] == {"1": ["harmful"]}
    bad_flag = ann.put(
        f"/api/labeling/campaigns/{cid}/assignments/{got['assignment_id']}/draft",
        json={"flags": {"1": ["rude"]}},
    )
    assert bad_flag.status_code == 422 and "rude" in bad_flag.json()["message"]
    # ann skips: bob gets the item, ann never again
    assert (
        ann.post(f"/api/labeling/campaigns/{cid}/assignments/{got['assignment_id']}/skip").status_code == 204
    )
    bobs = bob.post(f"/api/labeling/campaigns/{cid}/next").json()
    assert bobs["item_id"] == got["item_id"]
    assert ann.post(f"/api/labeling/campaigns/{cid}/next").status_code == 204
    # bob walks away: past the timeout his claim is released and cat gets the item
    with session_scope(settings.database_url) as session:
        session.execute(
            update(LabelingAssignment)
            .where(LabelingAssignment.id == bobs["assignment_id"])
            .values(claimed_at=utcnow() - timedelta(seconds=120))
        )
        session.commit()
    assert cat.post(f"/api/labeling/campaigns/{cid}/next").json()["item_id"] == got["item_id"]
    late = bob.post(
        f"/api/labeling/campaigns/{cid}/assignments/{bobs['assignment_id']}/submit",
        json={"answer": {"choice": "A"}},
    )
    assert late.status_code == 404  # his claim is gone


def test_bad_answers_are_refused_with_the_field(api, labelers):
    campaign = _campaign(api, n=1)
    got = labelers["ann"].post(f"/api/labeling/campaigns/{campaign['id']}/next").json()
    url = f"/api/labeling/campaigns/{campaign['id']}/assignments/{got['assignment_id']}/submit"
    refused = labelers["ann"].post(url, json={"answer": {"choice": "C"}})
    assert refused.status_code == 422 and "answer.choice" in refused.json()["message"]
    assert labelers["ann"].post(url, json={"answer": {"choice": "both_bad"}}).status_code == 200
    assert labelers["ann"].post(url, json={"answer": {"choice": "A"}}).status_code == 409  # exactly once


def test_quality_and_export_with_lineage_and_the_agreement_threshold(api, labelers):
    campaign = _campaign(api, n=4, agreement_threshold=0.8)
    cid = campaign["id"]
    _label_all(api, labelers["ann"], cid)

    def half_against(item: dict, index: int) -> dict:  # bob agrees with ann on his first two items only
        agree = _prefer_chosen(api, cid, item)
        return agree if index < 2 else {"choice": "B" if agree["choice"] == "A" else "A"}

    _label_all(api, labelers["bob"], cid, answer=half_against)
    quality = api.get(f"/api/labeling/campaigns/{cid}/quality").json()
    assert quality["labels"] == 8 and quality["labelers"] == 2
    assert quality["position_bias"]["comparisons"] >= 4
    assert {p["username"] for p in quality["per_labeler"]} == {"ann", "bob"}
    agreement = quality["percent_agreement"]
    assert agreement == pytest.approx(0.5)
    warned = api.post(f"/api/labeling/campaigns/{cid}/export", json={"kind": "pairs"})  # 0.5 < 0.8
    assert warned.status_code == 409 and warned.json()["code"] == "low_agreement"
    assert warned.json()["details"]["items"] and warned.json()["details"]["labelers"]
    exported = api.post(f"/api/labeling/campaigns/{cid}/export", json={"kind": "pairs", "confirm": True})
    assert exported.status_code == 201, exported.text
    version = exported.json()[0]
    assert version["format"] == "preference" and version["parent_id"] == campaign["source_version_id"]
    assert version["operation"]["campaign_id"] == cid and version["operation"]["op"] == "labeling_export"
    rows = api.get(f"/api/datasets/versions/{version['id']}/rows").json()["rows"]
    # unanimous items give one pair at confidence 1; split items (1 vs 1) give none
    assert rows and all(r["confidence"] == 1.0 for r in rows)
    assert len(rows) == round(agreement * 4)
    kto = api.post(f"/api/labeling/campaigns/{cid}/export", json={"kind": "kto", "confirm": True})
    assert kto.status_code == 201 and kto.json()[0]["format"] == "unpaired_preference"
    reward = api.post(f"/api/labeling/campaigns/{cid}/export", json={"kind": "reward", "confirm": True})
    assert reward.status_code == 201 and {v["split"] for v in reward.json()} <= {"train", "validation"}


def test_ai_labels_are_kept_apart(api, labelers):
    campaign = _campaign(api, n=2, overlap=1)
    cid = campaign["id"]
    _label_all(api, labelers["ann"], cid)
    items = api.get(f"/api/labeling/campaigns/{cid}/items").json()
    for item in items:
        body = {"answer": {"choice": "A"}, "judge": "tiny-judge"}
        assert (
            api.post(f"/api/labeling/campaigns/{cid}/items/{item['id']}/ai-labels", json=body).status_code
            == 201
        )
    quality = api.get(f"/api/labeling/campaigns/{cid}/quality").json()
    assert quality["labels"] == 2 and quality["labelers"] == 1
    assert quality["ai"]["labels"] == 2 and quality["ai"]["judges"] == ["ai:tiny-judge"]


def test_labelers_may_only_label(api, labelers):
    campaign = _campaign(api, n=1)
    ann = labelers["ann"]
    assert ann.get("/api/labeling/campaigns").json()[0]["id"] == campaign["id"]
    for method, url in [
        ("post", "/api/labeling/campaigns"),
        ("get", f"/api/labeling/campaigns/{campaign['id']}/quality"),
        ("get", f"/api/labeling/campaigns/{campaign['id']}/items"),
        ("post", f"/api/labeling/campaigns/{campaign['id']}/export"),
        ("post", f"/api/labeling/campaigns/{campaign['id']}/close"),
        ("get", "/api/datasets"),
        ("get", f"/api/datasets/versions/{campaign['source_version_id']}/rows"),
        ("get", "/api/jobs"),
        ("post", "/api/jobs"),
        ("get", "/api/users"),
        ("post", "/api/generations"),
    ]:
        answer = getattr(ann, method)(url, **({"json": {}} if method == "post" else {}))
        assert answer.status_code == 403, (url, answer.status_code, answer.text)


def test_campaign_refusals_name_the_field(api):
    campaign = _campaign(api, n=1)
    again = api.post(
        "/api/labeling/campaigns", json={"name": "helpfulness", "version_id": campaign["source_version_id"]}
    )
    assert again.status_code == 409
    three = api.post(
        "/api/labeling/campaigns",
        json={
            "name": "x",
            "version_id": campaign["source_version_id"],
            "generate": {"model_ids": [api.model_id]},
        },
    )
    assert three.status_code == 422 and three.json()["details"]["field"] == "mode"
    missing = api.post(
        "/api/labeling/campaigns",
        json={
            "name": "y",
            "mode": "rank",
            "version_id": campaign["source_version_id"],
            "generate": {"model_ids": [999]},
        },
    )
    assert missing.status_code == 422 and missing.json()["details"]["field"] == "generate.model_ids[0]"


def test_one_action_from_campaign_to_a_reward_job(api, labelers):
    campaign = _campaign(api, n=6, overlap=1)
    cid = campaign["id"]
    _label_all(api, labelers["ann"], cid)
    before = len(api.get("/api/datasets").json())
    spec = {"method": "reward", "training": {"max_steps": 2, "batch_size": 2, "max_length": 64}}
    refused = api.post(f"/api/labeling/campaigns/{cid}/train", json={"base_model_id": 999, "spec": spec})
    assert (
        refused.status_code in (404, 422) and len(api.get("/api/datasets").json()) == before
    )  # nothing kept
    sft = api.post(
        f"/api/labeling/campaigns/{cid}/train",
        json={"base_model_id": api.model_id, "spec": {"method": "sft"}},
    )
    assert sft.status_code == 422 and "campaigns train" in sft.json()["message"]
    made = api.post(
        f"/api/labeling/campaigns/{cid}/train", json={"base_model_id": api.model_id, "spec": spec}
    )
    assert made.status_code == 201, made.text
    job = made.json()
    assert job["method"] == "reward" and job["eval_dataset_version_id"] is not None
    train = api.get(f"/api/datasets/versions/{job['datasets'][0]['version_id']}").json()
    held = api.get(f"/api/datasets/versions/{job['eval_dataset_version_id']}").json()
    assert (train["split"], held["split"]) == ("train", "validation") and train["format"] == "preference"
    assert train["operation"]["campaign_id"] == cid


def test_items_from_a_script_and_labels_from_it(api, labelers):
    campaign = _campaign(api, n=1, overlap=1)
    cid = campaign["id"]
    prompt = [{"role": "user", "content": "Which is warmer?"}]
    arena = {"source": "arena", "model_id": 7}
    one = {"prompt": prompt, "candidates": [{"text": "the sun", "provenance": arena}, {"text": "ice"}]}
    wrong = {"prompt": prompt, "candidates": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}
    refused = api.post(f"/api/labeling/campaigns/{cid}/items", json=[one, wrong])
    assert refused.status_code == 422 and refused.json()["details"]["field"] == "items[1].candidates"
    assert len(api.get(f"/api/labeling/campaigns/{cid}/items").json()) == 1  # nothing half-stored
    added = api.post(f"/api/labeling/campaigns/{cid}/items", json=[one])
    assert added.status_code == 201 and len(added.json()) == 1
    assert labelers["ann"].post(f"/api/labeling/campaigns/{cid}/items", json=[one]).status_code == 403
    assert len(_label_all(api, labelers["ann"], cid, answer={"choice": "A"})) == 2


@pytest.mark.parametrize("labeler_ids", [[999], [10**30], "engineer"])
def test_labeler_ids_must_name_labelers(api, labeler_ids):
    if labeler_ids == "engineer":
        labeler_ids = [api.get("/api/auth/me").json()["id"]]
    rows = "\n".join(json.dumps(r) for r in preference_pairs(2, seed=4)).encode()
    uploaded = api.post("/api/datasets", files={"file": ("p.jsonl", rows)}, data={"name": "lab-ids"})
    body = {"name": "who", "version_id": uploaded.json()["versions"][0]["id"], "labeler_ids": labeler_ids}
    refused = api.post("/api/labeling/campaigns", json=body)
    assert refused.status_code == 422, refused.text
    assert "labeler_ids" in json.dumps(refused.json())
    assert api.get("/api/labeling/campaigns").json() == []  # nothing stored
