"""The Generate tab's handlers: the request body built from the form, and how previews and results read."""

from __future__ import annotations

import pytest

from ui.tabs.generate import build_body, describe, preview_table


def test_the_form_becomes_a_datagen_request():
    body = build_body("constitutional", 3, 7, " cai ", 20, 2, "Be kind.\n\nBe brief.\n", 64, 5, False)
    assert body["generator"] == {"kind": "studio", "model_id": 3} and body["source_version_id"] == 7
    assert body["name"] == "cai" and body["seed"] == 5 and body["preview"] is False
    assert body["constitutional"] == {
        "rounds": 2,
        "max_prompts": 20,
        "constitution": ["Be kind.", "Be brief."],
    }
    preview = build_body("self_instruct", 3, 7, "named", 5, 1, "", 64, 0, True)
    assert "name" not in preview and preview["self_instruct"] == {"num_tasks": 5, "max_requests": 20}
    with pytest.raises(ValueError, match="generator"):
        build_body("self_instruct", None, 7, "", 5, 1, "", 64, 0, True)
    with pytest.raises(ValueError, match="seed tasks"):
        build_body("self_instruct", 3, None, "", 5, 1, "", 64, 0, True)


def test_previews_and_results_read_as_rows_and_a_line():
    tasks = {
        "spec": {"kind": "self_instruct"},
        "result": {"preview": [{"instruction": "I", "input": "", "output": "O"}]},
    }
    assert preview_table(tasks) == [["I", "", "O"]]
    junk = {"spec": {"kind": "self_instruct"}, "result": {"preview": [], "samples": ["the of"]}}
    assert preview_table(junk) == [["(no task passed the filters)", "", "the of"]]
    item = {"prompt": [{"role": "user", "content": "P"}], "initial": "A", "revised": "B", "rounds": []}
    assert preview_table({"spec": {"kind": "constitutional"}, "result": {"preview": [item]}}) == [
        ["P", "A", "B"]
    ]
    done = {
        "id": 4,
        "method": "datagen",
        "status": "succeeded",
        "error": None,
        "result": {"dataset_version_ids": [9], "dropped": {"rouge_similar": 2}},
    }
    assert (
        describe(done)
        == "Job #4 (datagen): **succeeded** — stored dataset version(s) 9 — dropped: rouge_similar 2"
    )
