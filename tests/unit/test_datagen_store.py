"""Storing generated data: rows are validated as an upload is, all outputs or none are kept, and each version
names its source, generator and prompt; refused requests store no job."""

from __future__ import annotations

import json

import pytest

from backend import ingest
from backend.db import session_scope
from backend.models.datasets import Dataset
from backend.services import datagen
from backend.storage import ArtifactStore
from tests.factories import alpaca_like_seed_tasks, preference_pairs

LINEAGE = {"generator": {"kind": "studio", "model_id": 1, "name": "tiny"}, "prompt": {"critique": "C"}}


def _upload(api, name: str, rows: list[dict]) -> int:
    content = "\n".join(json.dumps(r) for r in rows).encode()
    response = api.post("/api/datasets", files={"file": (f"{name}.jsonl", content)}, data={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["versions"][0]["id"]


def _file(tmp_path, name: str, rows: list[dict]):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _job(api, source: int) -> int:
    body = {"kind": "constitutional", "name": "cai", "generator": {"model_id": api.model_id}}
    response = api.post("/api/datagen", json={**body, "source_version_id": source})
    assert response.status_code == 201, response.text
    assert response.json()["method"] == "datagen"
    return response.json()["id"]


def test_outputs_are_validated_and_stored_together_with_lineage(api, settings, tmp_path):
    source = _upload(api, "prompts", preference_pairs(4))
    job_id = _job(api, source)
    pairs = preference_pairs(3, seed=9)
    sft = [{"messages": [*p["prompt"], *p["chosen"]]} for p in pairs]
    store = ArtifactStore(settings.artifacts_dir)
    outputs = [
        datagen.Output("-sft", "chat", _file(tmp_path, "sft.jsonl", sft), {"rows": 3}),
        datagen.Output("-pairs", "preference", _file(tmp_path, "pairs.jsonl", pairs), {"rows": 3}),
    ]
    with session_scope(settings.database_url) as session:
        ids = datagen.store_outputs(session, store, job_id, outputs, LINEAGE)
    versions = [api.get(f"/api/datasets/versions/{v}").json() for v in ids]
    assert [v["format"] for v in versions] == ["chat", "preference"]
    assert all(v["parent_id"] == source and v["row_count"] == 3 for v in versions)
    operation = versions[1]["operation"]
    assert operation["op"] == "datagen" and operation["job_id"] == job_id
    assert operation["generator"]["model_id"] == 1 and operation["prompt"] == {"critique": "C"}
    names = {d["name"] for d in api.get("/api/datasets").json()}
    assert {"cai-sft", "cai-pairs"} <= names


def test_an_invalid_output_keeps_nothing(api, settings, tmp_path):
    source = _upload(api, "prompts", preference_pairs(4))
    job_id = _job(api, source)
    pairs = preference_pairs(2)
    bad = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": " "}]}]
    store = ArtifactStore(settings.artifacts_dir)
    outputs = [
        datagen.Output("-pairs", "preference", _file(tmp_path, "pairs.jsonl", pairs), {"rows": 2}),
        datagen.Output("-sft", "chat", _file(tmp_path, "sft.jsonl", bad), {"rows": 1}),
    ]
    with session_scope(settings.database_url) as session, pytest.raises(ingest.DatasetInvalid):
        datagen.store_outputs(session, store, job_id, outputs, LINEAGE)
    with session_scope(settings.database_url) as session:
        assert session.query(Dataset).filter(Dataset.name.like("cai%")).count() == 0
    assert not list((settings.artifacts_dir / "datasets").glob("*/*cai*"))


def test_refusals_store_no_job(api):
    seeds = _upload(api, "seeds", alpaca_like_seed_tasks(5))
    pairs = _upload(api, "pairs", preference_pairs(3))
    before = api.get("/api/jobs").json()["total"]
    cases = [
        ({"kind": "self_instruct", "source_version_id": pairs}, 422, "source_version_id"),
        ({"kind": "self_instruct", "source_version_id": seeds, "name": "seeds"}, 409, "name"),
        ({"kind": "constitutional", "source_version_id": 999}, 404, "version_id"),
        (
            {
                "kind": "self_instruct",
                "source_version_id": seeds,
                "self_instruct": {"min_instruction_words": 9, "max_instruction_words": 3},
            },
            422,
            "min_instruction_words",
        ),
    ]
    for body, status, field in cases:
        response = api.post("/api/datagen", json={"generator": {"model_id": api.model_id}, **body})
        assert response.status_code == status, response.text
        assert field in response.text
    model = api.post(
        "/api/datagen",
        json={"kind": "self_instruct", "source_version_id": seeds, "generator": {"model_id": 4242}},
    )
    assert model.status_code == 404
    assert api.get("/api/jobs").json()["total"] == before
