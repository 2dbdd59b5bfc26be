"""Datasets through the REST API: sets upload and are detected, versions keep lineage, exports round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import datasets as hf_datasets

from tests.factories import dialogsum_like_rows, write_jsonl

# The HH-RLHF sample (MIT) ships in tests/data with its notice; DialogSum-shaped rows are built in code.
HH = Path(__file__).resolve().parents[1] / "data" / "hh-rlhf" / "harmless-base.sample40.jsonl"


def _upload_file(api, path: Path, name: str, **form):
    with path.open("rb") as fh:
        return api.post("/api/datasets", files={"file": (path.name, fh)}, data={"name": name, **form})


def test_dialogsum_uploads_as_instruction_data_through_a_mapping(api, tmp_path):
    dialogsum = write_jsonl(tmp_path / "dialogsum.dev.jsonl", dialogsum_like_rows(500))
    response = _upload_file(
        api,
        dialogsum,
        "dialogsum",
        mapping=json.dumps({"input": "dialogue", "output": "summary"}),
        options=json.dumps({"templates": {"instruction": "Summarize the following conversation."}}),
    )
    assert response.status_code == 201, response.text
    version = response.json()["versions"][0]
    assert version["format"] == "instruction" and version["row_count"] == 500
    rows = api.get(f"/api/datasets/versions/{version['id']}/rows", params={"limit": 2}).json()["rows"]
    first = json.loads(dialogsum.open().readline())
    assert rows[0] == {
        "instruction": "Summarize the following conversation.",
        "input": first["dialogue"],
        "output": first["summary"],
    }


def test_hh_rlhf_uploads_as_preference_pairs_with_the_prompt_split_off(api):
    response = _upload_file(api, HH, "hh")
    assert response.status_code == 201, response.text
    version = response.json()["versions"][0]
    assert version["format"] == "preference" and version["row_count"] == 40
    row = api.get(f"/api/datasets/versions/{version['id']}/rows", params={"limit": 1}).json()["rows"][0]
    source = json.loads(HH.open().readline())
    assert row["prompt"][-1]["role"] == "user"
    assert row["chosen"][0]["content"] != row["rejected"][0]["content"]
    assert source["chosen"].endswith(row["chosen"][0]["content"])
    assert source["rejected"].endswith(row["rejected"][0]["content"])


def test_split_makes_two_child_versions_and_export_round_trips(api, tmp_path):
    lines = [
        json.dumps({"instruction": f"Add {i} and {i}", "input": "", "output": str(2 * i)}) for i in range(40)
    ]
    created = api.post(
        "/api/datasets", files={"file": ("adds.jsonl", "\n".join(lines).encode())}, data={"name": "adds"}
    ).json()
    parent = created["versions"][0]
    response = api.post(
        f"/api/datasets/versions/{parent['id']}/operations",
        json={"op": "split", "val_fraction": 0.25, "seed": 3},
    )
    assert response.status_code == 201, response.text
    train, validation = response.json()
    assert (train["split"], validation["split"]) == ("train", "validation")
    assert train["parent_id"] == validation["parent_id"] == parent["id"]
    assert (train["row_count"], validation["row_count"]) == (30, 10)
    assert api.get(f"/api/datasets/versions/{parent['id']}").json()["row_count"] == 40  # parent untouched

    for fmt in ("jsonl", "parquet"):
        exported = api.get(f"/api/datasets/versions/{train['id']}/export", params={"fmt": fmt})
        assert exported.status_code == 200
        path = tmp_path / f"train.{fmt}"
        path.write_bytes(exported.content)
        loaded = hf_datasets.load_dataset(
            "json" if fmt == "jsonl" else "parquet",
            data_files=str(path),
            split="train",
            cache_dir=str(tmp_path / "cache"),
        )
        stored = api.get(f"/api/datasets/versions/{train['id']}/rows", params={"limit": 100}).json()["rows"]
        assert loaded.to_list() == stored


def test_exact_dedup_records_what_it_removed(api):
    row = json.dumps({"text": "the same line"})
    created = api.post(
        "/api/datasets", files={"file": ("t.jsonl", f"{row}\n{row}\n{row}".encode())}, data={"name": "dupes"}
    ).json()
    assert created["versions"][0]["report"]["warnings"][0]["kind"] == "duplicate_row"
    response = api.post(
        f"/api/datasets/versions/{created['versions'][0]['id']}/operations", json={"op": "dedup_exact"}
    )
    (version,) = response.json()
    assert version["row_count"] == 1 and version["version"] == 2
    assert version["operation"]["stats"]["removed"] == 2
    assert version["operation"]["stats"]["examples"][0]["row"] == 2


def test_a_second_upload_with_the_same_name_is_refused(api):
    body = json.dumps({"text": "x"}).encode()
    assert (
        api.post("/api/datasets", files={"file": ("a.jsonl", body)}, data={"name": "same"}).status_code == 201
    )
    again = api.post("/api/datasets", files={"file": ("a.jsonl", body)}, data={"name": "same"})
    assert again.status_code == 409
    assert again.json()["details"]["field"] == "name"
