"""The reward-model half of the labeling loop in a live studio with the tiny model: two labelers label
HH-RLHF-shaped pairs, one action trains a reward model from the campaign, the campaign view reports its
accuracy on the held-out labels next to the human agreement ceiling; attached to a campaign, the infer worker
scores its candidates and the queue hands out the smallest reward margin first."""

from __future__ import annotations

import json
import time

from tests.e2e.slice_helpers import upload, wait_for_job
from tests.e2e.test_labeling_e2e import _hh_rows

ITEMS = 10


def _label_chosen(engineer, labeler, campaign_id: int) -> list[int]:
    """Label every item handed out, always preferring the `chosen` reply; the item ids in the order given."""
    truth = {
        c["text"]: c["provenance"].get("field")
        for i in engineer.get(f"/api/labeling/campaigns/{campaign_id}/items").json()
        for c in i["candidates"]
    }
    order = []
    while True:
        got = labeler.post(f"/api/labeling/campaigns/{campaign_id}/next")
        if got.status_code == 204:
            return order
        assert got.status_code == 200, got.text
        item = got.json()
        first = truth[item["candidates"][0]["text"]]
        url = f"/api/labeling/campaigns/{campaign_id}/assignments/{item['assignment_id']}/submit"
        sent = labeler.post(url, json={"answer": {"choice": "A" if first == "chosen" else "B"}})
        assert sent.status_code == 200, sent.text
        order.append(item["item_id"])


def _wait_scored(client, campaign_id: int, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    campaign = {}
    while time.monotonic() < deadline:
        campaign = client.get(f"/api/labeling/campaigns/{campaign_id}").json()
        scoring = campaign["reward_scoring"]
        assert scoring["status"] != "failed", scoring["error"]
        if scoring["status"] == "succeeded":
            return scoring
        time.sleep(0.5)
    raise AssertionError(f"campaign {campaign_id} scoring still {campaign.get('reward_scoring')}")


def _labeler(studio, engineer, name: str):
    body = {"username": name, "role": "labeler", "password": "labeler-pass-1"}
    made = engineer.post("/api/users", json=body)
    assert made.status_code == 201, made.text
    return studio.client(made.json()["token"])


def test_reward_model_from_a_campaign_reports_held_out_accuracy_and_orders_the_queue(studio):
    engineer = studio.client()
    rows = "\n".join(json.dumps(r) for r in _hh_rows(ITEMS)).encode()
    version = upload(engineer, "hh-rm-prompts", rows)["versions"][0]
    created = engineer.post(
        "/api/labeling/campaigns",
        json={"name": "hh-rm", "mode": "pairwise", "version_id": version["id"], "overlap": 2},
    )
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["reward_job_id"] is None and campaign["reward_scoring"] is None
    for name in ("rm-ann", "rm-bob"):
        assert len(_label_chosen(engineer, _labeler(studio, engineer, name), campaign["id"])) == ITEMS

    trained = engineer.post(
        f"/api/labeling/campaigns/{campaign['id']}/train",
        json={
            "base_model_id": studio.tiny_model_id,
            "spec": {
                "method": "reward",
                "training": {
                    "learning_rate": 1e-3,
                    "batch_size": 4,
                    "max_length": 64,
                    "max_steps": 8,
                    "eval_steps": 8,
                    "lr_scheduler": "constant",
                    "warmup_ratio": 0,
                    "save_steps": 100,
                },
            },
            "export": {"validation_fraction": 0.3},
        },
    )
    assert trained.status_code == 201, trained.text
    job = wait_for_job(engineer, trained.json()["id"], timeout=900)
    assert job["status"] == "succeeded", job["error"]

    quality = engineer.get(f"/api/labeling/campaigns/{campaign['id']}/quality").json()
    assert quality["human_ceiling"] == quality["percent_agreement"] == 1.0
    (model,) = quality["reward_models"]
    assert model["job_id"] == job["id"] and model["held_out_version_id"] == job["eval_dataset_version_id"]
    assert isinstance(model["accuracy"], float) and 0.0 <= model["accuracy"] <= 1.0
    assert model["held_out_pairs"] >= 1 and not model["attached"]

    # attach it to the labeled campaign (PATCH) and to a fresh one (POST): the worker scores the candidates
    attached = engineer.patch(f"/api/labeling/campaigns/{campaign['id']}", json={"reward_job_id": job["id"]})
    assert attached.status_code == 200, attached.text
    assert attached.json()["reward_scoring"]["status"] in ("queued", "running", "succeeded")
    fresh = engineer.post(
        "/api/labeling/campaigns",
        json={
            "name": "hh-rm-uncertain",
            "mode": "pairwise",
            "version_id": version["id"],
            "overlap": 1,
            "reward_job_id": job["id"],
        },
    )
    assert fresh.status_code == 201, fresh.text
    assert fresh.json()["reward_job_id"] == job["id"]
    for campaign_id in (campaign["id"], fresh.json()["id"]):
        scoring = _wait_scored(engineer, campaign_id)
        assert scoring["scored"] == scoring["candidates"] == ITEMS * 2
    assert engineer.get(f"/api/labeling/campaigns/{campaign['id']}/quality").json()["reward_models"][0][
        "attached"
    ]

    items = engineer.get(f"/api/labeling/campaigns/{fresh.json()['id']}/items").json()
    margins = {}
    for item in items:
        scores = [c["reward_score"] for c in item["candidates"]]
        assert all(isinstance(s, float) for s in scores)
        margins[item["id"]] = abs(scores[0] - scores[1])
        assert item["reward_margin"] == margins[item["id"]]
    handed = _label_chosen(engineer, _labeler(studio, engineer, "rm-cat"), fresh.json()["id"])
    assert handed == sorted(margins, key=lambda i: (margins[i], i))
