"""The /v1 surface in-process (no workers): files, job creation and its refusals, cursor pages, models, and
OpenAI's error shape on /v1 only."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import update

from backend.db import session_scope
from backend.models.jobs import Job, JobEvent, JobStatus
from backend.models.registry import BaseModel, ModelSource
from tests.e2e.slice_helpers import learnable_chat_jsonl

DATA = Path(__file__).resolve().parent.parent / "data"


def _file(api, content: bytes, name: str = "train.jsonl", purpose: str = "fine-tune"):
    return api.post("/v1/files", files={"file": (name, content)}, data={"purpose": purpose})


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]


def _job(api, file_id: str, **extra):
    body = {"model": "tiny", "training_file": file_id, **extra}
    return api.post("/v1/fine_tuning/jobs", json=body)


def test_a_file_is_a_dataset_version_listed_read_and_deleted(api):
    created = _file(api, learnable_chat_jsonl())
    assert created.status_code == 200, created.text
    file = created.json()
    assert file["id"].startswith("file-") and file["object"] == "file" and file["purpose"] == "fine-tune"
    assert file["filename"] == "train.jsonl" and file["bytes"] > 0 and file["status"] == "processed"
    version_id = int(file["id"].removeprefix("file-"))
    version = api.get(f"/api/datasets/versions/{version_id}").json()
    assert version["format"] == "chat" and version["row_count"] == 16

    again = _file(api, learnable_chat_jsonl()).json()  # the same name twice, as OpenAI allows
    assert again["filename"] == "train.jsonl (2)"
    assert [f["id"] for f in api.get("/v1/files").json()["data"]] == [again["id"], file["id"]]
    assert api.get(f"/v1/files/{file['id']}").json() == file
    lines = api.get(f"/v1/files/{file['id']}/content").text.splitlines()
    assert len(lines) == 16 and "secret word" in lines[0]

    assert api.delete(f"/v1/files/{file['id']}").json() == {
        "id": file["id"],
        "object": "file",
        "deleted": True,
    }
    assert _error(api.get(f"/v1/files/{file['id']}"), 404)["param"] == "file_id"


def test_a_refused_file_names_its_line_and_field(api):
    error = _error(_file(api, (DATA / "bad" / "invalid_json_line7.jsonl").read_bytes()), 400)
    assert "line 7" in error["message"] and "invalid_json" in error["message"], error
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_file"
    error = _error(_file(api, (DATA / "bad" / "unknown_role.jsonl").read_bytes()), 400)
    assert "line 3" in error["message"] and "messages[1].role" in error["message"], error
    assert error["param"] == "line 3: messages[1].role"
    assert api.get("/v1/files").json()["data"] == []  # nothing stored


def test_errors_have_openai_shape_under_v1_only(api):
    assert _error(api.get("/v1/models", headers={"Authorization": ""}), 401)["type"] == "authentication_error"
    assert _error(api.get("/v1/no-such-thing"), 404)["type"] == "not_found_error"
    missing = _error(api.post("/v1/chat/completions", json={"model": "tiny"}), 400)
    assert missing["param"] == "messages" and missing["type"] == "invalid_request_error"
    assert _error(_file(api, b"{}", purpose="assistants"), 400)["param"] == "purpose"
    unknown = _error(api.post("/v1/chat/completions", json={"model": "nope", "messages": []}), 400)
    assert unknown["param"] == "messages"  # at least one message
    model = _error(
        api.post(
            "/v1/chat/completions", json={"model": "nope", "messages": [{"role": "user", "content": "hi"}]}
        ),
        404,
    )
    assert model["code"] == "model_not_found" and "nope" in model["message"]
    nan = api.post(
        "/v1/chat/completions",
        content=b'{"model": "tiny", "temperature": NaN, "messages": [{"role": "user", "content": "hi"}]}',
        headers={"Content-Type": "application/json"},
    )
    assert "NaN" in _error(nan, 400)["message"]
    # the rest of the API keeps Afina's shape
    afina = api.get("/api/models/999")
    assert afina.status_code == 404 and set(afina.json()) == {"code", "message", "details"}


def test_job_creation_maps_onto_an_afina_job(api):
    file_id = _file(api, learnable_chat_jsonl()).json()["id"]
    response = _job(
        api,
        file_id,
        suffix="secret",
        seed=7,
        method={
            "type": "supervised",
            "supervised": {
                "hyperparameters": {"n_epochs": 3, "batch_size": 4, "learning_rate_multiplier": 2}
            },
        },
    )
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["object"] == "fine_tuning.job" and job["status"] == "queued" and job["model"] == "tiny"
    assert job["training_file"] == file_id and job["fine_tuned_model"] is None and job["seed"] == 7
    assert job["hyperparameters"] == {"n_epochs": 3.0, "batch_size": 4, "learning_rate_multiplier": 2.0}
    afina = api.get(f"/api/jobs/{job['afina_job_id']}").json()  # an ordinary Afina job
    assert afina["method"] == "sft" and afina["name"] == "secret"
    training = afina["spec"]["training"]
    assert training["num_epochs"] == 3 and training["save_steps"] == 4 and training["seed"] == 7
    assert abs(training["learning_rate"] - 4e-4) < 1e-12


def test_job_refusals_name_the_openai_parameter(api):
    chat = _file(api, learnable_chat_jsonl()).json()["id"]
    assert _error(_job(api, "file-999"), 400)["param"] == "training_file"
    assert _error(_job(api, "dataset-1"), 400)["param"] == "training_file"
    dpo = _error(_job(api, chat, method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}}), 400)
    assert (
        dpo["param"] == "training_file" and f"'{chat}'" in dpo["message"] and "preference" in dpo["message"]
    )
    both = _job(api, chat, hyperparameters={"n_epochs": 1}, method={"type": "supervised", "supervised": {}})
    assert _error(both, 400)["param"] == "hyperparameters"
    assert (
        _error(_job(api, chat, hyperparameters={"n_epochs": 0}), 400)["param"] == "hyperparameters.n_epochs"
    )
    assert (
        _error(api.post("/v1/fine_tuning/jobs", json={"model": "x", "training_file": chat}), 404)["code"]
        == "model_not_found"
    )


def test_dpo_maps_beta(api):
    pairs = _file(api, (DATA / "good" / "preference.jsonl").read_bytes(), name="pairs.jsonl").json()["id"]
    job = _job(api, pairs, method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.25}}}).json()
    assert job["method"]["type"] == "dpo" and job["method"]["dpo"]["hyperparameters"]["beta"] == 0.25
    assert api.get(f"/api/jobs/{job['afina_job_id']}").json()["spec"]["beta"] == 0.25


def _walk(api, url: str, limit: int) -> list[str]:
    seen, after = [], None
    while True:
        page = api.get(url, params={"limit": limit, **({"after": after} if after else {})}).json()
        assert page["object"] == "list" and len(page["data"]) <= limit
        seen += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            return seen
        after = page["last_id"]
        assert after == page["data"][-1]["id"]


def test_jobs_and_events_page_by_cursor(api, settings):
    file_id = _file(api, learnable_chat_jsonl()).json()["id"]
    ids = [_job(api, file_id).json()["id"] for _ in range(5)]
    assert _walk(api, "/v1/fine_tuning/jobs", 2) == ids[::-1]  # newest first, each once
    assert _walk(api, "/v1/fine_tuning/jobs", 5) == ids[::-1]
    last = api.get("/v1/fine_tuning/jobs", params={"after": ids[0]}).json()
    assert last["data"] == [] and last["has_more"] is False

    job_id = int(ids[0].removeprefix("ftjob-"))
    with session_scope(settings.database_url) as session:
        session.add_all(JobEvent(job_id=job_id, message=f"step {i}") for i in range(6))
        session.commit()
    events = _walk(api, f"/v1/fine_tuning/jobs/{ids[0]}/events", 4)
    assert len(events) == 7 and events == sorted(events, key=lambda e: -int(e.split("-")[1]))
    first = api.get(f"/v1/fine_tuning/jobs/{ids[0]}/events", params={"limit": 1}).json()["data"][0]
    assert first["object"] == "fine_tuning.job.event" and first["message"] == "step 5"
    assert _error(api.get("/v1/fine_tuning/jobs", params={"after": "file-1"}), 404)["param"] == "after"
    assert _error(api.get("/v1/fine_tuning/jobs", params={"limit": 0}), 400)["param"] == "limit"


def test_a_succeeded_job_names_its_tuned_model(api, settings):
    file_id = _file(api, learnable_chat_jsonl()).json()["id"]
    job = _job(api, file_id, suffix="my words").json()
    job_id = job["afina_job_id"]
    with session_scope(settings.database_url) as session:
        tuned = BaseModel(
            name=f"job-{job_id}-adapter",
            source=ModelSource.job,
            path="jobs/x/final",
            config={},
            parent_model_id=api.model_id,
            job_id=job_id,
            is_adapter=True,
        )
        session.add(tuned)
        session.flush()
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status=JobStatus.succeeded, result={"output_model_id": tuned.id})
        )
        session.commit()
    name = f"ft:tiny:my-words:job-{job_id}"
    assert api.get(f"/v1/fine_tuning/jobs/{job['id']}").json()["fine_tuned_model"] == name
    models = [m["id"] for m in api.get("/v1/models").json()["data"]]
    assert models == ["tiny", name]
    assert api.get(f"/v1/models/{name}").json()["owned_by"] == f"job-{job_id}"
    assert api.get("/v1/models/tiny").json() == {
        "id": "tiny",
        "object": "model",
        "created": api.get("/v1/models").json()["data"][0]["created"],
        "owned_by": "afina",
    }
    assert _error(api.get(f"/v1/models/ft:tiny:x:job-{job_id + 1}"), 404)["code"] == "model_not_found"


def test_cancel_of_a_queued_job_and_state_conflicts(api):
    file_id = _file(api, learnable_chat_jsonl()).json()["id"]
    job = _job(api, file_id).json()
    assert _error(api.post(f"/v1/fine_tuning/jobs/{job['id']}/pause"), 409)["type"] == "conflict_error"
    cancelled = api.post(f"/v1/fine_tuning/jobs/{job['id']}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"] is not None
    assert _error(api.post(f"/v1/fine_tuning/jobs/{job['id']}/cancel"), 409)["code"] == "job_finished"
    assert api.get(f"/v1/fine_tuning/jobs/{job['id']}/checkpoints").json()["data"] == []


def _dpo_line(prompt: str, good: str, bad) -> str:
    return json.dumps(
        {
            "input": {"messages": [{"role": "user", "content": prompt}]},
            "preferred_output": [{"role": "assistant", "content": good}],
            "non_preferred_output": [{"role": "assistant", "content": bad}],
        }
    )


def test_openai_dpo_files_train_dpo_and_name_their_own_fields(api):
    rows = "\n".join(_dpo_line(f"Question {i}?", f"Answer {i}.", "No.") for i in range(4)).encode()
    file = _file(api, rows, name="dpo.jsonl").json()
    version = api.get(f"/api/datasets/versions/{file['id'].removeprefix('file-')}").json()
    assert version["format"] == "preference" and version["row_count"] == 4
    job = _job(api, file["id"], method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.3}}})
    assert job.status_code == 200, job.text
    assert api.get(f"/api/jobs/{job.json()['afina_job_id']}").json()["spec"]["beta"] == 0.3

    bad = (_dpo_line("Q?", "A.", "B.") + "\n" + _dpo_line("Q?", "A.", 7) + "\n").encode()
    error = _error(_file(api, bad, name="bad-dpo.jsonl"), 400)
    assert "line 2" in error["message"] and "non_preferred_output" in error["message"], error
