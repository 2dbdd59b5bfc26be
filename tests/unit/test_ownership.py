"""Every row has an owner: a second engineer can neither see (404) nor change (403 when shared) the first
one's datasets, jobs, models and generations; shared rows are read by all and changed by their owner and
admins; admins act on everything; a job's output model name can never be taken by a registration."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.db import session_scope
from backend.models.inference import InferenceRequest
from backend.models.jobs import Job, JobStatus
from backend.models.registry import ModelSource
from backend.models.users import Role, User
from backend.services import registry, users
from backend.services.errors import Conflict, Invalid

ROWS = [{"instruction": f"Add {i} and {i}", "input": "", "output": str(2 * i)} for i in range(20)]


def _client(settings, name: str, role: Role) -> TestClient:
    with session_scope(settings.database_url) as session:
        user, _ = users.create_user(session, name, role, f"{name}-password-1")
        token = users.issue_token(session, user)
    client = TestClient(create_app(settings))
    client.headers["Authorization"] = f"Bearer {token}"
    return client


@pytest.fixture
def bob(settings, api):
    client = _client(settings, "bob", Role.engineer)
    client.model_id = api.model_id
    return client


@pytest.fixture
def admin(settings):
    return _client(settings, "root", Role.admin)


def _upload(api, name: str = "alice-data") -> dict:
    body = "\n".join(json.dumps(r) for r in ROWS).encode()
    response = api.post("/api/datasets", files={"file": (f"{name}.jsonl", body)}, data={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def _job(api, version_id: int, name: str = "alice-job") -> dict:
    body = {
        "name": name,
        "base_model_id": api.model_id,
        "datasets": [{"version_id": version_id}],
        "spec": {"method": "sft", "training": {"max_steps": 2}},
    }
    response = api.post("/api/jobs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _finish_with_output(settings, job_id: int, tiny_model_dir) -> int:
    """What the worker does at the end of a job: register its output under the job's owner and visibility."""
    with session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        model = registry.register_model(
            session,
            registry.job_output_name(job.name, job.id),
            tiny_model_dir,
            settings=settings,
            source=ModelSource.job,
            job_id=job.id,
            owner_id=job.owner_id,
            visibility=job.visibility,
        )
        job.status, job.result = JobStatus.succeeded, {"output_model_id": model.id}
        session.commit()
        return model.id


def test_a_private_dataset_is_invisible_to_another_engineer(api, bob, admin):
    dataset = _upload(api)
    version_id = dataset["versions"][0]["id"]

    assert dataset["visibility"] == "private" and dataset["owner_id"] is not None
    assert [d["id"] for d in bob.get("/api/datasets").json()] == []
    for url in (
        f"/api/datasets/{dataset['id']}",
        f"/api/datasets/versions/{version_id}",
        f"/api/datasets/versions/{version_id}/rows",
        f"/api/datasets/versions/{version_id}/export",
    ):
        assert bob.get(url).status_code == 404, url
    assert bob.delete(f"/api/datasets/{dataset['id']}").status_code == 404
    assert bob.patch(f"/api/datasets/{dataset['id']}", json={"visibility": "shared"}).status_code == 404
    refused = bob.post(
        "/api/jobs",
        json={
            "base_model_id": api.model_id,
            "datasets": [{"version_id": version_id}],
            "spec": {"method": "sft"},
        },
    )
    assert refused.status_code == 422 and "not found" in refused.json()["message"]  # as if it did not exist
    assert [d["id"] for d in admin.get("/api/datasets").json()] == [dataset["id"]]
    assert api.get(f"/api/datasets/{dataset['id']}").status_code == 200


def test_a_shared_dataset_is_read_and_trained_on_by_others_but_changed_by_its_owner_and_admins(
    api, bob, admin
):
    dataset = _upload(api)
    version_id = dataset["versions"][0]["id"]
    shared = api.patch(f"/api/datasets/{dataset['id']}", json={"visibility": "shared"})
    assert shared.status_code == 200 and shared.json()["visibility"] == "shared"

    assert [d["id"] for d in bob.get("/api/datasets").json()] == [dataset["id"]]
    assert bob.get(f"/api/datasets/versions/{version_id}/rows").status_code == 200
    assert bob.delete(f"/api/datasets/{dataset['id']}").status_code == 403
    assert bob.post(f"/api/datasets/{dataset['id']}/archive").status_code == 403
    assert (
        bob.post(f"/api/datasets/versions/{version_id}/operations", json={"op": "dedup_exact"}).status_code
        == 403
    )
    assert bob.patch(f"/api/datasets/{dataset['id']}", json={"visibility": "private"}).status_code == 403
    job = _job(bob, version_id, name="bob-job")  # training on shared data is reading it
    assert job["owner_id"] != dataset["owner_id"] and job["visibility"] == "private"

    assert admin.post(f"/api/datasets/{dataset['id']}/archive").status_code == 200
    assert admin.patch(f"/api/datasets/{dataset['id']}", json={"visibility": "private"}).status_code == 200
    assert bob.get(f"/api/datasets/{dataset['id']}").status_code == 404


def test_jobs_and_their_output_models_follow_the_owner(api, bob, admin, settings, tiny_model_dir):
    job = _job(api, _upload(api)["versions"][0]["id"])
    model_id = _finish_with_output(settings, job["id"], tiny_model_dir)

    assert bob.get("/api/jobs").json()["items"] == []
    assert {m["id"] for m in bob.get("/api/models").json()} == {api.model_id}  # the shared base model only
    for url in (
        f"/api/jobs/{job['id']}",
        f"/api/jobs/{job['id']}/events",
        f"/api/models/{model_id}",
        f"/api/runs/compare?job_ids={job['id']}",
    ):
        assert bob.get(url).status_code == 404, url
    assert bob.post(f"/api/jobs/{job['id']}/resume").status_code == 404
    bob_version = _upload(bob, "bob-data")["versions"][0]["id"]
    from_parent = bob.post(
        "/api/jobs",
        json={
            "parent_job_id": job["id"],
            "datasets": [{"version_id": bob_version}],
            "spec": {"method": "sft"},
        },
    )
    assert from_parent.status_code == 404  # starting from a job you cannot see
    generation = bob.post("/api/generations", json={"model_ids": [model_id], "prompt": "hi"})
    assert generation.status_code == 422 and "not found" in generation.json()["message"]

    assert api.patch(f"/api/jobs/{job['id']}", json={"visibility": "shared"}).status_code == 200
    assert bob.get(f"/api/jobs/{job['id']}").status_code == 200
    assert bob.get(f"/api/models/{model_id}").json()["visibility"] == "shared"  # the output follows its job
    assert bob.get(f"/api/runs/compare?job_ids={job['id']}").status_code == 200
    assert bob.post(f"/api/jobs/{job['id']}/cancel").status_code == 403
    assert bob.patch(f"/api/models/{model_id}", json={"visibility": "private"}).status_code == 403

    assert admin.patch(f"/api/models/{model_id}", json={"visibility": "private"}).status_code == 200
    assert bob.get(f"/api/models/{model_id}").status_code == 404
    assert admin.post(f"/api/jobs/{job['id']}/resume").status_code == 409  # let through: it is just finished


def test_a_queued_job_is_cancelled_by_its_owner_or_an_admin_only(api, bob, admin):
    version_id = _upload(api)["versions"][0]["id"]
    first, second = _job(api, version_id, "one"), _job(api, version_id, "two")
    api.patch(f"/api/jobs/{first['id']}", json={"visibility": "shared"})

    assert bob.post(f"/api/jobs/{first['id']}/cancel").status_code == 403
    assert bob.post(f"/api/jobs/{second['id']}/cancel").status_code == 404
    assert api.post(f"/api/jobs/{first['id']}/cancel").json()["status"] == "cancelled"
    assert admin.post(f"/api/jobs/{second['id']}/cancel").json()["status"] == "cancelled"


def test_a_generation_is_its_writers_alone(api, bob, admin, settings):
    with session_scope(settings.database_url) as session:
        alice = session.query(User).filter_by(username="eng").one()
        request = InferenceRequest(kind="generate", payload={"prompt": "secret"}, owner_id=alice.id)
        session.add(request)
        session.commit()
        request_id = request.id

    assert bob.get(f"/api/generations/{request_id}").status_code == 404
    assert api.get(f"/api/generations/{request_id}").json()["payload"] == {"prompt": "secret"}
    assert admin.get(f"/api/generations/{request_id}").status_code == 200


def test_a_job_output_name_cannot_be_taken_by_a_registration(api, admin, settings, tiny_model_dir):
    job = _job(api, _upload(api)["versions"][0]["id"], name="chat")
    name = registry.job_output_name("chat", job["id"])
    assert name == f"chat (job {job['id']})"

    refused = admin.post("/api/models", json={"name": name, "path": str(tiny_model_dir)})
    assert refused.status_code == 422 and refused.json()["code"] == "reserved_name"
    merged = admin.post(
        "/api/models", json={"name": f"chat (job {job['id']}, merged)", "path": str(tiny_model_dir)}
    )
    assert merged.status_code == 422
    with session_scope(settings.database_url) as session, pytest.raises(Invalid):
        registry.register_model(session, f"x (job {job['id'] + 1})", tiny_model_dir, settings=settings)

    model_id = _finish_with_output(settings, job["id"], tiny_model_dir)
    assert model_id == _finish_with_output(settings, job["id"], tiny_model_dir)  # a retried finish reuses it
    with session_scope(settings.database_url) as session, pytest.raises(Conflict):
        registry.register_model(  # another job can never produce this name (the suffix is its own id)
            session, name, tiny_model_dir, settings=settings, source=ModelSource.job, job_id=job["id"] + 1
        )
    registered = admin.post("/api/models", json={"name": "chat", "path": str(tiny_model_dir)})
    assert registered.status_code == 201 and registered.json()["visibility"] == "shared"


def test_grader_and_reward_models_you_cannot_see_are_refused_as_missing(api, bob, settings, tiny_model_dir):
    """A judge, a classifier grader or a classifier reward names a model in the body: another engineer's
    private model is refused exactly as a missing one (no name, no architecture), and is not used."""
    job = _job(api, _upload(api)["versions"][0]["id"])
    model_id = _finish_with_output(settings, job["id"], tiny_model_dir)
    version = _upload(bob, "bob-data")["versions"][0]["id"]

    def evaluation(grader: dict):
        return bob.post(
            "/api/evaluations",
            json={"model_ids": [bob.model_id], "dataset_version_id": version, "spec": {"graders": [grader]}},
        )

    def grpo(reward: dict):
        spec = {"method": "grpo", "training": {"max_steps": 1}, "rewards": [reward]}
        body = {"base_model_id": bob.model_id, "datasets": [{"version_id": version}], "spec": spec}
        return bob.post("/api/jobs", json=body)

    cases = [
        (evaluation, {"kind": "judge", "judge_model_id": "{}"}, "spec.graders[0].judge_model_id"),
        (evaluation, {"kind": "classifier", "classifier_model_id": "{}", "label": "x"}, "spec.graders[0]"),
        (grpo, {"kind": "classifier", "classifier_model_id": "{}", "label": "x"}, "spec.rewards[0]"),
    ]
    for send, template, where in cases:
        answers = {}
        for target in (model_id, 987654):
            body = {k: target if v == "{}" else v for k, v in template.items()}
            response = send(body)
            assert response.status_code == 422, response.text
            answers[target] = response.json()["message"].replace(str(target), "N")
        assert answers[model_id] == answers[987654], where
        assert "alice-job" not in answers[model_id]

    assert api.patch(f"/api/jobs/{job['id']}", json={"visibility": "shared"}).status_code == 200
    assert evaluation({"kind": "judge", "judge_model_id": model_id}).status_code == 201  # shared: usable


def test_refusing_to_delete_a_shared_dataset_does_not_name_others_private_work(api, bob, admin):
    """The 409 names the jobs that use a dataset; another engineer's private job is counted, not named."""
    dataset = _upload(api, "shared-data")
    version = dataset["versions"][0]["id"]
    assert api.patch(f"/api/datasets/{dataset['id']}", json={"visibility": "shared"}).status_code == 200
    mine = _job(api, version, name="alice-own-run")
    theirs = _job(bob, version, name="bob-secret-run")

    refused = api.delete(f"/api/datasets/{dataset['id']}")
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert "alice-own-run" in body["message"] and "1 private to other users" in body["message"]
    assert "bob-secret-run" not in refused.text and f"job {theirs['id']}" not in body["message"]
    assert [u["id"] for u in body["details"]["used_by"]] == [mine["id"]]
    assert body["details"]["used_by_others"] == 1

    seen_by_admin = admin.delete(f"/api/datasets/{dataset['id']}").json()
    assert "bob-secret-run" in seen_by_admin["message"] and seen_by_admin["details"]["used_by_others"] == 0
