"""Template preview, token-length profile and dataset mixtures, through the REST API and real workers."""

from __future__ import annotations

import json

from tests.e2e.slice_helpers import learnable_chat_jsonl, upload, wait_for_job


def test_template_preview_marks_only_assistant_tokens(studio):
    client = studio.client()
    version = upload(client, "preview-me", learnable_chat_jsonl())["versions"][0]
    for template in ("model", "chatml", "llama3", "alpaca", "gemma"):
        response = client.post(
            f"/api/datasets/versions/{version['id']}/preview",
            params={"wait": 60},
            json={"model_id": studio.tiny_model_id, "row": 2, "chat_template": template},
        )
        assert response.status_code == 202
        preview = response.json()
        assert preview["status"] == "succeeded", preview["error"]
        result = preview["result"]
        trained = "".join(t["token"] for t in result["tokens"] if t["loss"])
        untrained = "".join(t["token"] for t in result["tokens"] if not t["loss"])
        assert "pineapple" in trained.replace(" ", "") or "pine" in trained, (template, trained)
        assert "secret word?" in untrained.replace("  ", " "), (template, untrained)
        assert "(2)" in result["text"]


def test_profile_counts_tokens_and_is_stored_on_the_version(studio):
    client = studio.client()
    rows = [json.dumps({"text": "word " * n}) for n in (5, 10, 400)]
    version = upload(client, "profile-me", "\n".join(rows).encode())["versions"][0]
    response = client.post(
        f"/api/datasets/versions/{version['id']}/profile",
        params={"wait": 60},
        json={"model_id": studio.tiny_model_id, "max_length": 64},
    )
    profile = response.json()
    assert profile["status"] == "succeeded", profile["error"]
    result = profile["result"]
    assert result["row_count"] == 3
    assert result["share_over_max_length"] == 1 / 3
    assert sum(b["rows"] for b in result["histogram"]) == 3
    assert (
        client.get(f"/api/datasets/versions/{version['id']}").json()["profile"]["tokens_max"]
        == result["tokens_max"]
    )


def test_a_job_trains_on_a_weighted_mixture(studio):
    client = studio.client()
    a = upload(client, "mix-a", learnable_chat_jsonl(8))["versions"][0]
    b_rows = [json.dumps({"instruction": "Say yes", "input": "", "output": "yes"}) for _ in range(4)]
    b = upload(client, "mix-b", "\n".join(b_rows).encode())["versions"][0]
    response = client.post(
        "/api/jobs",
        json={
            "base_model_id": studio.tiny_model_id,
            "datasets": [{"version_id": a["id"], "weight": 1.0}, {"version_id": b["id"], "weight": 3.0}],
            "spec": {"method": "sft", "training": {"max_steps": 3, "max_length": 64, "batch_size": 4}},
        },
    )
    assert response.status_code == 201, response.text
    done = wait_for_job(client, response.json()["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["datasets"] == [
        {"version_id": a["id"], "weight": 1.0},
        {"version_id": b["id"], "weight": 3.0},
    ]
    events = " ".join(e["message"] for e in client.get(f"/api/jobs/{done['id']}/events").json())
    assert "32 rows" in events  # 8 rows at weight 1 -> 24 rows of mix-b at weight 3 (sampled with repeats)


def test_a_method_refuses_data_of_the_wrong_format(studio):
    client = studio.client()
    version = upload(client, "text-only", b'{"text": "plain text"}\n{"text": "more"}')["versions"][0]
    response = client.post(
        "/api/jobs",
        json={
            "base_model_id": studio.tiny_model_id,
            "datasets": [{"version_id": version["id"]}],
            "spec": {"method": "dpo"},
        },
    )
    assert response.status_code == 422
    assert "preference" in response.json()["message"]
