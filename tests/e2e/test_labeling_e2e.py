"""The labeling loop in a live studio: HH-RLHF-shaped prompts, a third candidate written by the tiny model on
the infer worker, three labelers with overlap 2 through the REST API, export to pairs, a DPO job on them."""

from __future__ import annotations

import json
import time

from tests.e2e.slice_helpers import upload, wait_for_job
from tests.factories import WORDS

ITEMS = 6


def _hh_rows(n: int) -> list[dict]:
    """Transcripts in the HH-RLHF shape: a shared conversation, then the chosen and the rejected reply."""
    rows = []
    for i in range(n):
        question = f"Can you tell me about {WORDS[i % len(WORDS)]} and {WORDS[(i + 3) % len(WORDS)]}?"
        start = f"\n\nHuman: {question}\n\nAssistant:"
        rows.append(
            {
                "chosen": f"{start} Happy to help: {WORDS[i % len(WORDS)]} is a fine topic, thanks.",
                "rejected": f"{start} No.",
            }
        )
    return rows


def _wait_open(client, campaign_id: int, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaign = client.get(f"/api/labeling/campaigns/{campaign_id}").json()
        if campaign["status"] == "open":
            return campaign
        time.sleep(0.5)
    raise AssertionError(f"campaign {campaign_id} still {campaign['status']}")


def _ranking(engineer, campaign_id: int, item: dict, contrarian: bool) -> dict:
    """chosen > generated > rejected by position as shown (the contrarian puts rejected above generated)."""
    truth = {
        c["text"]: c["provenance"]
        for i in engineer.get(f"/api/labeling/campaigns/{campaign_id}/items").json()
        if i["id"] == item["item_id"]
        for c in i["candidates"]
    }
    position = {}
    for shown in item["candidates"]:
        provenance = truth[shown["text"]]
        position[provenance.get("field", "model")] = shown["position"]
    order = ["chosen", "rejected", "model"] if contrarian else ["chosen", "model", "rejected"]
    return {"ranking": [[position[name]] for name in order]}


def test_campaign_generate_label_export_and_train(studio):
    engineer = studio.client()
    version = upload(engineer, "hh-prompts", "\n".join(json.dumps(r) for r in _hh_rows(ITEMS)).encode())[
        "versions"
    ][0]
    assert version["format"] == "preference"
    created = engineer.post(
        "/api/labeling/campaigns",
        json={
            "name": "hh-helpfulness",
            "mode": "rank",
            "version_id": version["id"],
            "overlap": 2,
            "generate": {
                "model_ids": [studio.tiny_model_id],
                "params": {"max_new_tokens": 12, "do_sample": True, "seed": 1},
            },
        },
    )
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["k"] == 3 and campaign["status"] == "generating"
    campaign = _wait_open(engineer, campaign["id"])
    items = engineer.get(f"/api/labeling/campaigns/{campaign['id']}/items").json()
    generated = [c for i in items for c in i["candidates"] if c["provenance"]["source"] == "model"]
    assert len(generated) == ITEMS and all(c["text"] is not None and c["error"] is None for c in generated)
    assert generated[0]["provenance"]["model_id"] == studio.tiny_model_id

    labelers = {}
    for name in ("lab1", "lab2", "lab3"):
        made = engineer.post(
            "/api/users", json={"username": name, "role": "labeler", "password": "labeler-pass-1"}
        )
        assert made.status_code == 201, made.text
        labelers[name] = studio.client(made.json()["token"])
    # each labeler takes turns until the queue is empty: 6 items x overlap 2 = 12 labels
    submitted, active = 0, set(labelers)
    while active:
        for name in sorted(active):
            client = labelers[name]
            got = client.post(f"/api/labeling/campaigns/{campaign['id']}/next")
            if got.status_code == 204:
                active.discard(name)
                continue
            item = got.json()
            answer = _ranking(engineer, campaign["id"], item, contrarian=name == "lab3")
            url = f"/api/labeling/campaigns/{campaign['id']}/assignments/{item['assignment_id']}/submit"
            assert client.post(url, json={"answer": answer, "seconds": 2.0}).status_code == 200
            submitted += 1
    assert submitted == ITEMS * 2
    # a labeler may not touch training, datasets or administration
    for method, url in [("get", "/api/jobs"), ("get", "/api/datasets"), ("get", "/api/users")]:
        assert getattr(labelers["lab1"], method)(url).status_code == 403

    quality = engineer.get(f"/api/labeling/campaigns/{campaign['id']}/quality").json()
    assert quality["labels"] == ITEMS * 2 and quality["alpha"] is not None
    exported = engineer.post(f"/api/labeling/campaigns/{campaign['id']}/export", json={"kind": "pairs"})
    assert exported.status_code == 201, exported.text
    pairs = exported.json()[0]
    assert pairs["format"] == "preference" and pairs["parent_id"] == version["id"]
    rows = engineer.get(f"/api/datasets/versions/{pairs['id']}/rows", params={"limit": 100}).json()["rows"]
    # every item gives chosen > rejected unanimously; generated vs rejected splits where lab3 labeled
    best = [
        r
        for r in rows
        if r["chosen"][0]["content"].startswith("Happy") and r["rejected"][0]["content"] == "No."
    ]
    assert len(best) == ITEMS and all(r["confidence"] == 1.0 for r in best)

    job = engineer.post(
        "/api/jobs",
        json={
            "base_model_id": studio.tiny_model_id,
            "datasets": [{"version_id": pairs["id"]}],
            "spec": {
                "method": "dpo",
                "training": {
                    "learning_rate": 5e-3,
                    "batch_size": 4,
                    "max_length": 64,
                    "max_steps": 4,
                    "lr_scheduler": "constant",
                    "warmup_ratio": 0,
                    "save_steps": 100,
                },
            },
        },
    )
    assert job.status_code == 201, job.text
    done = wait_for_job(engineer, job.json()["id"], timeout=600)
    assert done["status"] == "succeeded", done["error"]
