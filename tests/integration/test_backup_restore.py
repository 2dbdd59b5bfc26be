"""`afina backup` and `afina restore`: a fresh install restored from a backup has the users, datasets and
artifacts of the original and trains on a restored dataset; SQLite and PostgreSQL, each way round."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.slice_helpers import learnable_chat_jsonl, sft_job, upload, wait_for_job
from tests.integration.fault_helpers import fresh_install, studio_of_kind
from tests.stack import ROOT


def _cli(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        env=stack.env,
        cwd=ROOT,
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("source", "target"), [("sqlite", "sqlite"), ("postgres", "postgres"), ("sqlite", "postgres")]
)
def test_restore_then_train_from_a_restored_dataset(tmp_path, source, target):
    backup_dir = tmp_path / "backup"
    with studio_of_kind(source, tmp_path / "source") as original:
        client = original.client()
        dataset = upload(client, "kept", learnable_chat_jsonl())
        version = dataset["versions"][0]
        done = _cli(original, "backup", str(backup_dir))
        assert done.returncode == 0, done.stderr
        assert _cli(original, "backup", str(backup_dir)).returncode == 1  # never over an earlier backup
        manifest = json.loads((backup_dir / "manifest.json").read_text())
        assert manifest["rows"]["dataset_versions"] == 1 and manifest["rows"]["users"] == 1

    with fresh_install(target, tmp_path / "restored", original) as restored:
        done = _cli(restored, "restore", str(backup_dir))
        assert done.returncode == 0, done.stderr
        again = _cli(restored, "restore", str(backup_dir))
        assert again.returncode == 1 and "fresh" in again.stderr  # an install in use needs --force

        restored.start_api()
        restored.start_worker("train")
        client = restored.client()  # the original's token: users and tokens came back
        assert [d["name"] for d in client.get("/api/datasets").json()] == ["kept"]
        rows = client.get(f"/api/datasets/versions/{version['id']}/rows").json()
        assert rows["total"] == version["row_count"] == 16
        job = sft_job(client, restored.tiny_model_id, version["id"], max_steps=4, save_steps=100)
        done = wait_for_job(client, job["id"])
        assert done["status"] == "succeeded", done["error"]
        new = upload(client, "after-restore", learnable_chat_jsonl(8))  # the id sequences moved past the copy
        assert new["id"] > dataset["id"]
