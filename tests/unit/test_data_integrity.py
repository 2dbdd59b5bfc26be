"""Data a job trained on cannot change under it: ids are never reused, used versions cannot be deleted
(archive instead, and archived data stays readable), derived versions delete cleanly, and the worker refuses
a rows file whose sha256 is not the stored one."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy import Integer, create_engine, text

import backend.models  # registers every table
from backend import migrate
from backend.db import Base, session_scope
from backend.models.jobs import Job, JobStatus
from backend.storage import ArtifactStore
from tests.factories import preference_pairs
from worker.jobs.child import _load_inputs
from worker.jobs.dataset_files import DatasetFileChanged, checked_version_file

ROWS = [{"instruction": f"Add {i} and {i}", "input": "", "output": str(2 * i)} for i in range(40)]


def _upload(api, name: str, rows=ROWS):
    body = "\n".join(json.dumps(r) for r in rows).encode()
    response = api.post("/api/datasets", files={"file": (f"{name}.jsonl", body)}, data={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def _job(api, version_id: int, name: str = "uses-it"):
    body = {
        "name": name,
        "base_model_id": api.model_id,
        "datasets": [{"version_id": version_id}],
        "spec": {"method": "sft", "training": {"max_steps": 2}},
    }
    response = api.post("/api/jobs", json=body)
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


def test_every_table_with_an_integer_id_never_reuses_ids_on_sqlite():
    for table in Base.metadata.tables.values():
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and isinstance(pk[0].type, Integer):
            assert table.dialect_options["sqlite"]["autoincrement"], (
                f"table {table.name}: add __table_args__ = NEVER_REUSE_IDS (backend.db)"
            )


def test_deleted_ids_are_not_reused(api):
    _upload(api, "first")
    newest = _upload(api, "second")
    assert api.delete(f"/api/datasets/{newest['id']}").status_code == 204
    again = _upload(api, "third")
    assert again["id"] != newest["id"]
    assert again["versions"][0]["id"] != newest["versions"][0]["id"]


def test_migration_rebuild_keeps_rows_and_stops_reuse(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "77b92fa567f5")
    engine = create_engine(url)
    with engine.begin() as conn:
        for i in (1, 2, 3):
            conn.execute(
                text("INSERT INTO datasets (id, name, description, created_at) VALUES (:i, :n, '', '2026')"),
                {"i": i, "n": f"d{i}"},
            )
    engine.dispose()
    migrate.upgrade(url)
    db = sqlite3.connect(tmp_path / "old.db")
    assert [r[0] for r in db.execute("SELECT name FROM datasets ORDER BY id")] == ["d1", "d2", "d3"]
    assert "AUTOINCREMENT" in db.execute("SELECT sql FROM sqlite_master WHERE name='jobs'").fetchone()[0]
    db.execute("DELETE FROM datasets WHERE id = 3")
    db.execute("INSERT INTO datasets (name, description, created_at) VALUES ('d4', '', '2026-01-01')")
    assert db.execute("SELECT id FROM datasets WHERE name='d4'").fetchone()[0] == 4
    db.close()


def test_a_used_dataset_cannot_be_deleted_and_the_refusal_names_the_job(api, settings):
    dataset = _upload(api, "trained-on")
    version = dataset["versions"][0]
    job = _job(api, version["id"], name="my-sft-run")
    response = api.delete(f"/api/datasets/{dataset['id']}")
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "dataset_in_use"
    assert f"job {job['id']}" in body["message"] and "my-sft-run" in body["message"]
    assert "archive" in body["message"]
    assert body["details"]["used_by"] == [
        {"kind": "job", "id": job["id"], "name": "my-sft-run", "version_id": version["id"]}
    ]
    assert api.get(f"/api/datasets/{dataset['id']}").status_code == 200
    assert (settings.artifacts_dir / version["path"]).is_file() if "path" in version else True
    assert api.get(f"/api/datasets/versions/{version['id']}/rows").json()["total"] == 40


def test_a_dataset_used_as_eval_set_cannot_be_deleted(api):
    train = _upload(api, "train-set")
    evaluation = _upload(api, "eval-set")
    body = {
        "base_model_id": api.model_id,
        "datasets": [{"version_id": train["versions"][0]["id"]}],
        "eval_dataset_version_id": evaluation["versions"][0]["id"],
        "spec": {"method": "sft", "training": {"max_steps": 2}},
    }
    assert api.post("/api/jobs", json=body).status_code in (200, 201, 202)
    assert api.delete(f"/api/datasets/{evaluation['id']}").status_code == 409


def test_archived_data_leaves_the_listing_and_stays_readable_and_its_job_resumes(api, settings):
    dataset = _upload(api, "old-data")
    kept = _upload(api, "kept")
    version_id = dataset["versions"][0]["id"]
    job = _job(api, version_id)

    archived = api.post(f"/api/datasets/{dataset['id']}/archive")
    assert archived.status_code == 200 and archived.json()["archived_at"]
    assert [d["id"] for d in api.get("/api/datasets").json()] == [kept["id"]]
    listed = api.get("/api/datasets", params={"include_archived": True}).json()
    assert {d["id"] for d in listed} == {dataset["id"], kept["id"]}
    assert api.get(f"/api/datasets/versions/{version_id}/rows").json()["total"] == 40
    assert api.delete(f"/api/datasets/{dataset['id']}").status_code == 409  # still used: stays

    with session_scope(settings.database_url) as session:
        session.get(Job, job["id"]).status = JobStatus.failed
        session.commit()
    resumed = api.post(f"/api/jobs/{job['id']}/resume")
    assert resumed.status_code in (200, 202), resumed.text
    assert resumed.json()["status"] == "queued"
    store = ArtifactStore(settings.artifacts_dir)
    with session_scope(settings.database_url) as session:
        path = checked_version_file(session, store, version_id)  # what the worker reads
        assert len(path.read_bytes().splitlines()) == 40

    new_job = api.post(
        "/api/jobs",
        json={
            "base_model_id": api.model_id,
            "datasets": [{"version_id": version_id}],
            "spec": {"method": "sft"},
        },
    )
    assert new_job.status_code == 422 and "archived" in new_job.json()["message"]  # new work: unarchive first

    assert api.post(f"/api/datasets/{dataset['id']}/unarchive").json()["archived_at"] is None
    assert len(api.get("/api/datasets").json()) == 2


def test_a_dataset_with_derived_versions_deletes(api, settings):
    dataset = _upload(api, "with-children")
    parent = dataset["versions"][0]["id"]
    split = api.post(
        f"/api/datasets/versions/{parent}/operations", json={"op": "split", "val_fraction": 0.25}
    )
    assert split.status_code == 201
    train_id = split.json()[0]["id"]
    dedup = api.post(f"/api/datasets/versions/{train_id}/operations", json={"op": "dedup_exact"})
    assert dedup.status_code == 201
    response = api.delete(f"/api/datasets/{dataset['id']}")
    assert response.status_code == 204, response.text
    assert api.get(f"/api/datasets/{dataset['id']}").status_code == 404
    assert not (settings.artifacts_dir / "datasets" / str(dataset["id"])).exists()


def test_a_derived_version_used_by_a_job_blocks_deleting_its_dataset(api):
    dataset = _upload(api, "derived-used")
    split = api.post(
        f"/api/datasets/versions/{dataset['versions'][0]['id']}/operations", json={"op": "split"}
    ).json()
    job = _job(api, split[0]["id"], name="on-train-split")
    response = api.delete(f"/api/datasets/{dataset['id']}")
    assert response.status_code == 409 and f"job {job['id']}" in response.json()["message"]


@pytest.mark.parametrize("tamper", ["edit", "truncate", "remove"])
def test_the_worker_refuses_a_rows_file_that_changed(api, settings, tamper):
    dataset = _upload(api, f"tampered-{tamper}")
    version_id = dataset["versions"][0]["id"]
    job = _job(api, version_id)
    store = ArtifactStore(settings.artifacts_dir)
    with session_scope(settings.database_url) as session:
        path = store.path(session.get(backend.models.DatasetVersion, version_id).path)
    data = path.read_bytes()
    if tamper == "edit":
        path.write_bytes(data.replace(b'"2"', b'"3"', 1))  # one answer changed, still valid JSON
    elif tamper == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.unlink()
    with pytest.raises(DatasetFileChanged) as refused:
        _load_inputs(job["id"], store, settings)
    message = str(refused.value)
    assert f"dataset version {version_id}" in message
    assert ("changed" in message) if tamper != "remove" else ("missing" in message)


def test_a_dataset_a_campaign_labels_cannot_be_deleted(api):
    rows = "\n".join(json.dumps(r) for r in preference_pairs(3, seed=5)).encode()
    uploaded = api.post("/api/datasets", files={"file": ("prefs.jsonl", rows)}, data={"name": "prompts"})
    assert uploaded.status_code == 201, uploaded.text
    dataset = uploaded.json()
    body = {"name": "uses-prompts", "mode": "pairwise", "version_id": dataset["versions"][0]["id"]}
    campaign = api.post("/api/labeling/campaigns", json=body)
    assert campaign.status_code == 201, campaign.text
    refused = api.delete(f"/api/datasets/{dataset['id']}")
    assert refused.status_code == 409, refused.text
    assert "campaign" in refused.json()["message"] and "uses-prompts" in refused.json()["message"]
    assert (
        api.get(f"/api/labeling/campaigns/{campaign.json()['id']}").json()["source_version_id"]
        == (dataset["versions"][0]["id"])
    )
