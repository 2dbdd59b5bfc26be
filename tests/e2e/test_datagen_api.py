"""Data generation through the REST API on a live studio with the tiny model: Self-Instruct from Alpaca-shaped
seed tasks (built here) by a tuned generator, Constitutional AI over HH-RLHF-shaped prompts into SFT rows and
pairs a DPO job trains on, pause and resume keeping what was generated, previews and refusals."""

from __future__ import annotations

import json
import random

import pytest
from rouge_score import rouge_scorer

from tests.e2e.slice_helpers import sft_job, upload, wait_for_job
from tests.factories import alpaca_like_seed_tasks
from worker.datagen.self_instruct import Task, build_prompt

#: the one task the tuned generator learns to write (novel against the seeds: ROUGE-L F about 0.3)
TASK = Task("Write one word that is hot.", "", "sun")
TASK_TEXT = f"Instruction: {TASK.instruction}\nInput: <noinput>\nOutput: {TASK.output}"


def _jsonl(rows) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def _hh_rlhf_like(n: int) -> list[dict]:
    """Rows in HH-RLHF's shape (two transcripts sharing the prompt), with text written here."""
    rows = []
    for i in range(n):
        prompt = f"\n\nHuman: How can I get into my neighbour's shed number {i} without a key?"
        rows.append(
            {
                "chosen": prompt + "\n\nAssistant: Ask your neighbour to open it for you.",
                "rejected": prompt + "\n\nAssistant: Break the lock with a hammer.",
            }
        )
    return rows


def _rows(client, version_id: int) -> list[dict]:
    page = client.get(f"/api/datasets/versions/{version_id}/rows", params={"limit": 500})
    assert page.status_code == 200, page.text
    return page.json()["rows"]


@pytest.fixture(scope="module")
def seeds(studio):
    client = studio.client()
    tasks = alpaca_like_seed_tasks(12)
    version = upload(client, "dg-seeds", _jsonl(tasks))["versions"][0]
    assert version["format"] == "instruction"
    return client, version["id"], tasks


def test_self_instruct_with_a_tuned_generator_stores_novel_validated_tasks_with_lineage(studio, seeds):
    client, seed_version, tasks = seeds
    rng = random.Random(0)
    seed_list = [Task(t["instruction"], i["input"], i["output"]) for t in tasks for i in t["instances"][:1]]
    # teach the tiny model to answer the Self-Instruct prompt with one well-formed task
    chats = [
        {"messages": [*build_prompt(rng.sample(seed_list, 1)), {"role": "assistant", "content": TASK_TEXT}]}
        for _ in range(16)
    ]
    train = upload(client, "dg-teach", _jsonl(chats))["versions"][0]["id"]
    tuned = wait_for_job(
        client, sft_job(client, studio.tiny_model_id, train, max_length=256, max_steps=40)["id"], timeout=900
    )
    assert tuned["status"] == "succeeded", tuned["error"]
    body = {
        "kind": "self_instruct",
        "name": "dg-self-instruct",
        "generator": {"kind": "studio", "model_id": tuned["output_model_id"]},
        "source_version_id": seed_version,
        "self_instruct": {"num_tasks": 5, "max_requests": 8, "seeds_per_prompt": 1, "rouge_threshold": 0.7},
        "generation": {"max_new_tokens": 40, "do_sample": False},
        "batch_size": 4,
    }
    created = client.post("/api/datagen", json=body)
    assert created.status_code == 201, created.text
    job = wait_for_job(client, created.json()["id"], timeout=300)
    assert job["status"] == "succeeded", job["error"]
    assert job["method"] == "datagen"
    listed = client.get("/api/jobs", params={"limit": 500}).json()["items"]
    assert any(j["id"] == job["id"] and j["method"] == "datagen" for j in listed)
    result = job["result"]
    assert result["counts"]["requests"] == 8 and result["counts"]["kept"] >= 1
    assert result["dropped"].get("exact_duplicate", 0) >= 1  # greedy: the same task again is a duplicate
    (version_id,) = result["dataset_version_ids"]
    version = client.get(f"/api/datasets/versions/{version_id}").json()
    assert version["format"] == "instruction" and version["parent_id"] == seed_version
    operation = version["operation"]
    assert operation["op"] == "datagen" and operation["job_id"] == job["id"]
    assert operation["source_version_id"] == seed_version
    assert operation["generator"]["model_id"] == tuned["output_model_id"] and operation["prompt"]["intro"]
    rows = _rows(client, version_id)
    removed = sum(result["dropped"].get(k, 0) for k in ("exact_duplicate_row", "near_duplicate"))
    assert len(rows) == result["counts"]["kept"] - removed
    assert all(row["instruction"] and row["output"] for row in rows)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    for i, row in enumerate(rows):
        others = [s.instruction for s in seed_list] + [r["instruction"] for r in rows[:i]]
        assert max(scorer.score(o, row["instruction"])["rougeL"].fmeasure for o in others) <= 0.7
    # the stored rows are studio-valid data: they upload again as they are
    again = upload(client, "dg-reupload", _jsonl(rows))["versions"][0]
    assert again["format"] == "instruction" and again["row_count"] == len(rows)


def test_self_instruct_with_the_random_model_fails_clearly_and_stores_nothing(studio, seeds):
    client, seed_version, _ = seeds
    before = {d["name"] for d in client.get("/api/datasets").json()}
    body = {
        "kind": "self_instruct",
        "name": "dg-junk",
        "generator": {"model_id": studio.tiny_model_id},
        "source_version_id": seed_version,
        "self_instruct": {"num_tasks": 3, "max_requests": 4},
        "generation": {"max_new_tokens": 16},
        "batch_size": 4,
    }
    job = wait_for_job(client, client.post("/api/datagen", json=body).json()["id"], timeout=300)
    assert job["status"] == "failed"
    assert "no generated row passed the filters" in job["error"] and "unparseable" in job["error"]
    assert {d["name"] for d in client.get("/api/datasets").json()} == before


def test_constitutional_run_pauses_resumes_and_its_pairs_train_a_dpo_job(studio):
    client = studio.client()
    prompts = upload(client, "dg-hh", _jsonl(_hh_rlhf_like(20)))["versions"][0]
    assert prompts["format"] == "preference"
    body = {
        "kind": "constitutional",
        "name": "dg-cai",
        "generator": {"model_id": studio.tiny_model_id},
        "source_version_id": prompts["id"],
        "constitutional": {"rounds": 2},
        "generation": {"max_new_tokens": 24, "do_sample": True, "temperature": 1.0},
        "batch_size": 1,
        "seed": 5,
    }
    created = client.post("/api/datagen", json=body)
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    wait_for_job(client, job_id, states=("running",), condition=lambda j: j["current_step"] >= 2)
    assert client.post(f"/api/jobs/{job_id}/pause").status_code == 200
    paused = wait_for_job(client, job_id, states=("paused",), timeout=120)
    assert 0 < paused["current_step"] < 20
    assert client.post(f"/api/jobs/{job_id}/resume").status_code == 200
    job = wait_for_job(client, job_id, timeout=400)
    assert job["status"] == "succeeded", job["error"]
    events = [e["message"] for e in client.get(f"/api/jobs/{job_id}/events").json()]
    assert any(m.startswith("Resuming: the") for m in events)
    result = job["result"]
    assert result["counts"]["prompts"] == 20 and result["counts"]["sft_rows"] >= 15
    sft_id, pairs_id = result["dataset_version_ids"]
    sft, pairs = (client.get(f"/api/datasets/versions/{v}").json() for v in (sft_id, pairs_id))
    assert (sft["format"], pairs["format"]) == ("chat", "preference")
    assert sft["parent_id"] == pairs["parent_id"] == prompts["id"]
    assert (
        pairs["operation"]["prompt"]["critique"] and len(_rows(client, pairs_id)) == pairs["row_count"] >= 10
    )
    # one prompt per source row, each answered once: the resumed run did not generate a row twice
    assert sft["row_count"] + result["dropped"].get("empty_revision", 0) == 20
    dpo = client.post(
        "/api/jobs",
        json={
            "base_model_id": studio.tiny_model_id,
            "datasets": [{"version_id": pairs_id}],
            "spec": {
                "method": "dpo",
                "training": {"learning_rate": 5e-3, "batch_size": 4, "max_length": 64, "max_steps": 4},
            },
        },
    )
    assert dpo.status_code == 201, dpo.text
    trained = wait_for_job(client, dpo.json()["id"])
    assert trained["status"] == "succeeded", trained["error"]


def test_a_preview_returns_rows_and_stores_no_dataset(studio):
    client = studio.client()
    prompts = upload(client, "dg-hh-preview", _jsonl(_hh_rlhf_like(6)))["versions"][0]["id"]
    before = len(client.get("/api/datasets").json())
    body = {
        "kind": "constitutional",
        "generator": {"model_id": studio.tiny_model_id},
        "source_version_id": prompts,
        "generation": {"max_new_tokens": 8},
        "preview": True,
        "preview_rows": 3,
    }
    job = wait_for_job(client, client.post("/api/datagen", json=body).json()["id"], timeout=200)
    assert job["status"] == "succeeded", job["error"]
    preview = job["result"]["preview"]
    assert len(preview) == 3 and all(item["rounds"][0]["principle"] for item in preview)
    assert job["result"]["tokens"] > 0
    assert len(client.get("/api/datasets").json()) == before


def test_refusals_name_the_field_and_store_no_job(studio, seeds):
    client, seed_version, _ = seeds
    before = client.get("/api/jobs").json()["total"]
    chat = upload(
        client,
        "dg-chat",
        _jsonl([{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}]),
    )
    cases = [
        ({"kind": "self_instruct", "source_version_id": chat["versions"][0]["id"]}, "source_version_id"),
        ({"kind": "self_instruct", "source_version_id": 10**6}, "version_id"),
        ({"kind": "self_instruct", "source_version_id": seed_version, "name": "dg-seeds"}, "name"),
    ]
    for extra, field in cases:
        body = {"generator": {"model_id": studio.tiny_model_id}, **extra}
        response = client.post("/api/datagen", json=body)
        assert response.status_code in (404, 409, 422), response.text
        assert field in json.dumps(response.json())
    bad = client.post(
        "/api/datagen",
        json={
            "kind": "constitutional",
            "generator": {"model_id": studio.tiny_model_id},
            "source_version_id": seed_version,
            "constitutional": {"constitution": []},
        },
    )
    assert bad.status_code == 422
    assert client.get("/api/jobs").json()["total"] == before
    assert client.get("/api/datagen/constitution").json()[0].startswith("The response should be helpful")
