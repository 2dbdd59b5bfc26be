"""A studio whose AFINA_HOME was moved (copied elsewhere, the old folder gone) still serves its models."""

from __future__ import annotations

import shutil

from tests.e2e.slice_helpers import learnable_chat_jsonl, sft_job, upload, wait_for_job
from tests.stack import make_studio, studio_at

PROMPT = {"prompt": "What is the secret word? (1)", "max_new_tokens": 8, "do_sample": False}


def _generate(client, model_ids: list[int]) -> list[str]:
    response = client.post("/api/generations", params={"wait": 180}, json={"model_ids": model_ids, **PROMPT})
    assert response.status_code == 202, response.text
    generation = response.json()
    assert generation["status"] == "succeeded", generation["error"]
    return [o["text"] for o in generation["result"]["outputs"]]


def test_a_moved_studio_still_serves_its_tuned_models(tmp_path):
    old_home, new_home = tmp_path / "old" / "afina", tmp_path / "elsewhere" / "afina-moved"
    studio = make_studio(old_home)
    try:
        studio.start_api()
        studio.start_worker("train")
        studio.start_worker("infer")
        client = studio.client()
        version = upload(client, "secret-word", learnable_chat_jsonl())["versions"][0]
        done = wait_for_job(client, sft_job(client, studio.tiny_model_id, version["id"], max_steps=10)["id"])
        assert done["status"] == "succeeded", done["error"]
        tuned_id = done["output_model_id"]
        before = _generate(client, [studio.tiny_model_id, tuned_id])
    finally:
        studio.stop()

    shutil.copytree(old_home, new_home, symlinks=True)
    shutil.rmtree(old_home)  # a move: nothing may still point at the old place
    moved = studio_at(new_home)
    moved.token = studio.token
    try:
        moved.start_api()
        moved.start_worker("infer")
        client = moved.client()
        assert _generate(client, [studio.tiny_model_id, tuned_id]) == before
        tuned = client.get(f"/api/models/{tuned_id}").json()
        assert tuned["is_adapter"] and tuned["path"].startswith(str(new_home)), tuned
        # The moved studio also starts new work from its models: a job on the moved base model trains.
        moved.start_worker("train")
        again = wait_for_job(client, sft_job(client, studio.tiny_model_id, version["id"], max_steps=2)["id"])
        assert again["status"] == "succeeded", again["error"]
    finally:
        moved.stop()
