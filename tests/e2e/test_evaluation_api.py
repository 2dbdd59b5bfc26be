"""Evaluation jobs through the REST API on a live studio: base against two tuned adapters on DialogSum-shaped
rows, per-row evidence, aggregates, comparisons, forgetting, exports, and refusals that store nothing."""

from __future__ import annotations

import csv
import io
import json
import re
import time

import pytest
from rouge_score import rouge_scorer

from backend.db import session_scope
from backend.models.users import Role
from backend.services import users
from tests.e2e.browser import choose, log_in, open_tab, shot, wait_text
from tests.e2e.slice_helpers import learnable_chat_jsonl, sft_job, upload, wait_for_job
from tests.factories import preference_pairs


def _dialogues(n: int, start: int = 0) -> bytes:
    """Rows of DialogSum's shape (a #Person1#/#Person2# transcript and its summary), built here: the real
    DialogSum is CC BY-NC-SA and does not ship with the project."""
    rows = []
    for i in range(start, start + n):
        dialogue = (
            f"#Person1#: Hi, is the meeting still at {i % 12 + 1} o'clock?\n"
            f"#Person2#: Yes, in room {100 + i}. Bring the budget report.\n#Person1#: I will, thanks."
        )
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"Summarize the dialogue.\n{dialogue}"},
                    {
                        "role": "assistant",
                        "content": f"#Person2# reminds #Person1# of the meeting in room {100 + i}.",
                    },
                ]
            }
        )
    return "\n".join(json.dumps(r) for r in rows).encode()


@pytest.fixture(scope="module")
def evaluated(studio):
    client = studio.client()
    task = upload(client, "eval-dialogues", _dialogues(20))["versions"][0]["id"]
    general = upload(client, "eval-general", learnable_chat_jsonl(6))["versions"][0]["id"]
    examples = upload(client, "eval-examples", _dialogues(3, start=500))["versions"][0]["id"]
    tuned = []
    for steps in (4, 12):
        job = wait_for_job(
            client, sft_job(client, studio.tiny_model_id, task, max_steps=steps, max_length=256)["id"]
        )
        assert job["status"] == "succeeded", job
        tuned.append(job["output_model_id"])
    body = {
        "name": "base vs two adapters",
        "model_ids": [studio.tiny_model_id, *tuned],
        "dataset_version_id": task,
        "general_version_id": general,
        "examples_version_id": examples,
        "spec": {
            "graders": [
                {"kind": "rouge", "rouge_type": "rougeL"},
                {"kind": "bleu"},
                {"kind": "regex", "pattern": "#Person"},
            ],
            "generation": {"max_new_tokens": 16},
            "few_shot": [0, 1],
            "batch_size": 8,
        },
    }
    created = client.post("/api/evaluations", json=body)
    assert created.status_code == 201, created.text
    job = wait_for_job(client, created.json()["id"], timeout=400)
    assert job["status"] == "succeeded", client.get(f"/api/jobs/{job['id']}/events").json()
    return client, job, [studio.tiny_model_id, *tuned]


def test_summary_rows_and_comparisons(evaluated):
    client, job, model_ids = evaluated
    detail = client.get(f"/api/evaluations/{job['id']}").json()
    summary = detail["result"]["summary"]
    keys = [f"m{m}" for m in model_ids]
    assert summary["graders"] == ["rougeL", "bleu", "regex"]
    assert list(summary["task"]["models"]) == keys and summary["task"]["rows"] == 20
    assert set(summary["task"]["comparisons"]) == set(keys[1:])
    assert set(summary["forgetting"]) == set(keys[1:]) and set(summary["few_shot"]) == {"0-shot", "1-shot"}
    assert detail["current_step"] == detail["total_steps"] > 0
    page = client.get(f"/api/evaluations/{job['id']}/rows", params={"limit": 100}).json()
    assert page["total"] == 20 and len(page["items"]) == 20
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    for key in keys:
        scores = []
        for row in page["items"]:
            output = row["outputs"][key]
            # an independent computation on the same answers gives the same ROUGE-L
            expected = scorer.score(row["reference"], output["text"])["rougeL"].fmeasure
            assert output["scores"]["rougeL"] == pytest.approx(expected, abs=1e-9)
            scores.append(expected)
        assert summary["task"]["models"][key]["graders"]["rougeL"]["mean"] == pytest.approx(sum(scores) / 20)
    general = client.get(f"/api/evaluations/{job['id']}/rows", params={"set": "general"}).json()
    assert general["total"] == 6


def test_filter_to_rows_the_tuned_model_lost(evaluated):
    client, job, model_ids = evaluated
    base, tuned = f"m{model_ids[0]}", f"m{model_ids[2]}"
    lost = client.get(f"/api/evaluations/{job['id']}/rows", params={"lost_by": tuned, "limit": 100}).json()
    comparison = client.get(f"/api/evaluations/{job['id']}").json()["result"]["summary"]["task"][
        "comparisons"
    ]
    assert lost["total"] == comparison[tuned]["rougeL"]["losses"]
    for row in lost["items"]:
        assert row["outputs"][tuned]["scores"]["rougeL"] < row["outputs"][base]["scores"]["rougeL"]
    refused = client.get(f"/api/evaluations/{job['id']}/rows", params={"lost_by": base})
    assert refused.status_code == 422 and "lost_by" in refused.json()["message"]


def test_exports(evaluated):
    client, job, model_ids = evaluated
    as_csv = client.get(f"/api/evaluations/{job['id']}/export", params={"format": "csv"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert (
        len(table) == 26 and f"m{model_ids[1]}_rougeL" in table[0] and f"m{model_ids[0]}_answer" in table[0]
    )
    lines = client.get(f"/api/evaluations/{job['id']}/export", params={"format": "jsonl"}).text.splitlines()
    assert len(lines) == 26 and json.loads(lines[0])["outputs"]


def test_refusals_store_nothing(studio, evaluated):
    client, _job, model_ids = evaluated
    before = client.get("/api/evaluations").json()["total"]
    version = client.get("/api/datasets").json()[0]["versions"][0]["id"]
    cases = [
        ({"model_ids": [model_ids[0]], "dataset_version_id": 999999}, 404),
        ({"model_ids": [999999], "dataset_version_id": version}, 404),
        ({"model_ids": [model_ids[0], model_ids[0]], "dataset_version_id": version}, 422),
        ({"model_ids": [model_ids[0]], "dataset_version_id": version, "spec": {"few_shot": [2]}}, 422),
        (
            {
                "model_ids": [model_ids[0]],
                "dataset_version_id": version,
                "spec": {"graders": [{"kind": "regex"}]},
            },
            422,
        ),
        (
            {
                "model_ids": [model_ids[0]],
                "dataset_version_id": version,
                "spec": {"graders": [{"kind": "model", "reward_model_job_id": 999999}]},
            },
            422,
        ),
    ]
    for body, status in cases:
        response = client.post("/api/evaluations", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["message"]
    assert client.get("/api/evaluations").json()["total"] == before
    assert client.get("/api/evaluations/999999").status_code == 404


def _jsonl(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def test_reward_model_accuracy_on_held_out_pairs(studio):
    """A reward model trained on one set of pairs is scored on pairs it never saw: the job's accuracy is the
    share of stored rows where the chosen reply scored higher, and it clears chance on a separable
    preference."""
    client = studio.client()
    train = upload(client, "rm-train", _jsonl(preference_pairs(64, seed=1)))["versions"][0]["id"]
    held_out = upload(client, "rm-held-out", _jsonl(preference_pairs(40, seed=2)))["versions"][0]["id"]
    spec = {
        "method": "reward",
        "training": {
            "learning_rate": 1e-3,
            "batch_size": 8,
            "max_length": 64,
            "max_steps": 40,
            "lr_scheduler": "constant",
            "warmup_ratio": 0,
            "save_steps": 100,
        },
    }
    created = client.post(
        "/api/jobs",
        json={"base_model_id": studio.tiny_model_id, "datasets": [{"version_id": train}], "spec": spec},
    )
    assert created.status_code == 201, created.text
    reward_job = wait_for_job(client, created.json()["id"])
    assert reward_job["status"] == "succeeded", reward_job
    refused = client.post(
        "/api/evaluations",
        json={"model_ids": [reward_job["output_model_id"]], "dataset_version_id": held_out},
    )
    assert refused.status_code == 422 and "generate" in refused.json()["message"]
    body = {
        "model_ids": [reward_job["output_model_id"]],
        "dataset_version_id": held_out,
        "spec": {"kind": "preference_accuracy"},
    }
    job = wait_for_job(client, client.post("/api/evaluations", json=body).json()["id"], timeout=300)
    assert job["status"] == "succeeded", client.get(f"/api/jobs/{job['id']}/events").json()
    summary = client.get(f"/api/evaluations/{job['id']}").json()["result"]["summary"]
    key = f"m{reward_job['output_model_id']}"
    accuracy = summary["task"]["models"][key]["accuracy"]
    rows = client.get(f"/api/evaluations/{job['id']}/rows", params={"limit": 100}).json()["items"]
    assert len(rows) == 40 and summary["human_agreement"]["low"] == 0.63
    correct = [r["outputs"][key]["chosen_score"] > r["outputs"][key]["rejected_score"] for r in rows]
    assert accuracy["mean"] == pytest.approx(sum(correct) / 40)
    assert accuracy["low"] <= accuracy["mean"] <= accuracy["high"]
    assert accuracy["mean"] > 0.75


@pytest.mark.timeout(600)
def test_evaluate_tab_in_a_browser(studio, evaluated, page):
    """The same evaluation in the Evaluate tab: figures with intervals, the forgetting line, both plots, the
    per-row table, and the filter to rows a tuned model lost."""
    _client, job, model_ids = evaluated
    log_in(page, studio.url, studio.admin_username, studio.admin_password)
    open_tab(page, "Evaluate", "#eval-pick")
    choose(page, "eval-pick", re.compile(rf"^#{job['id']} "))
    summary = wait_text(page, "#eval-summary", r"20 rows", 60)
    assert "rougeL" in summary and "general set" in summary and "In-context baseline" in summary, summary
    page.locator("#eval-metrics-plot .js-plotly-plot").wait_for()
    page.locator("#eval-wins-plot .js-plotly-plot").wait_for()
    table = page.locator("#eval-rows-table")
    table.locator("table").first.wait_for()
    # Gradio's dataframe keeps the text of every cell in the page (some scrolled out of view): count it
    assert table.get_by_text("#Person2# reminds #Person1#").count() >= 20
    shot(page, "evaluate-summary")
    choose(page, "eval-lost-by", re.compile(rf"\({model_ids[2]}\) lost"))
    wait_text(page, "#eval-status", r"succeeded", 30)
    shot(page, "evaluate-lost-rows")


def _engineer_token(studio, name: str) -> str:
    with session_scope(studio.settings.database_url) as session:
        user, _ = users.create_user(session, name, Role.engineer, "engineer-password-1")
        return users.issue_token(session, user, "tests")


def _battle(client, body: dict) -> dict:
    created = client.post("/api/arena/battles", json=body)
    assert created.status_code == 201, created.text
    battle = created.json()
    assert battle["model_a"] is None and battle["model_b"] is None  # blind until the vote
    deadline = time.monotonic() + 180
    while battle["status"] == "generating" and time.monotonic() < deadline:
        time.sleep(0.5)
        battle = client.get(f"/api/arena/battles/{battle['id']}").json()
    assert battle["status"] == "ready", battle
    return battle


def test_blind_arena_votes_and_leaderboard(studio, evaluated):
    client, _job, model_ids = evaluated
    pool = model_ids[:2]
    names = {m["id"]: m["name"] for m in client.get("/api/models").json()}
    wins = {m: 0 for m in pool}
    for i in range(4):
        battle = _battle(
            client, {"prompt": f"Summarize: #Person1#: hi {i}", "model_ids": pool, "max_new_tokens": 8}
        )
        assert battle["answer_a"] is not None and battle["answer_b"] is not None and battle["model_a"] is None
        voted = client.post(f"/api/arena/battles/{battle['id']}/vote", json={"vote": "a"})
        assert voted.status_code == 200, voted.text
        revealed = voted.json()
        assert {revealed["model_a"], revealed["model_b"]} == {names[m] for m in pool}
        winner = next(m for m in pool if names[m] == revealed["model_a"])
        wins[winner] += 1
        again = client.post(f"/api/arena/battles/{battle['id']}/vote", json={"vote": "b"})
        assert again.status_code == 409
    tie = _battle(client, {"prompt": "Say hi", "model_ids": pool, "max_new_tokens": 4})
    assert client.post(f"/api/arena/battles/{tie['id']}/vote", json={"vote": "tie"}).status_code == 200
    board = client.get("/api/arena/leaderboard").json()
    assert board["votes"] == 5 and board["decisive_votes"] == 4
    rows = {row["model_id"]: row for row in board["rows"]}
    assert {m: rows[m]["wins"] for m in pool} == wins and all(rows[m]["battles"] == 5 for m in pool)
    more, fewer = sorted(pool, key=lambda m: -wins[m])
    if wins[more] > wins[fewer]:
        assert rows[more]["score"] > rows[fewer]["score"]
    # another engineer neither sees nor votes on someone else's battle
    other = studio.client(_engineer_token(studio, "arena-other"))
    assert other.get(f"/api/arena/battles/{tie['id']}").status_code == 404
    assert other.post(f"/api/arena/battles/{tie['id']}/vote", json={"vote": "a"}).status_code == 404
    # an unknown model in the pool
    refused = client.post("/api/arena/battles", json={"prompt": "hi", "model_ids": [model_ids[0], 999999]})
    assert refused.status_code == 404
