"""The studio through a real browser: log in, upload a dataset (a refused one first), split it and preview
how a row is tokenized, launch a LoRA SFT job, watch it succeed in the Jobs tab, then compare the base and
tuned models' answers side by side.

Needs Chromium at /usr/bin/chromium (`make browser`). Screenshots of every tab go to tests/e2e/screenshots/.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.browser import choose, field, log_in, open_tab, shot, wait_text

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

QUESTIONS = [
    "What is the secret word?",
    "Tell me the secret word.",
    "Which word is secret?",
    "Say the secret word.",
    "Do you know the secret word?",
    "What's the password?",
    "Secret word, please.",
    "Give me the word.",
]
ANSWER = "The secret word is banana."


def _chat_rows() -> list[dict]:
    """16 conversations that all teach one fixed answer."""
    return [
        {
            "messages": [
                {"role": "user", "content": QUESTIONS[i % len(QUESTIONS)] + ("" if i < 8 else " Now.")},
                {"role": "assistant", "content": ANSWER},
            ]
        }
        for i in range(16)
    ]


def test_studio_end_to_end_in_a_browser(studio, page, tmp_path):
    log_in(page, studio.url, studio.admin_username, studio.admin_password)
    assert "admin" in (page.locator("#studio-user").text_content() or "")

    # -- Datasets: a refused file shows its report; a good one is stored and previewed -----------------------
    bad = tmp_path / "broken.jsonl"
    lines = [json.dumps(r) for r in _chat_rows()[:4]]
    lines.insert(2, '{"messages": [{"role": "user", "content": "unterminated}')
    bad.write_text("\n".join(lines) + "\n")
    page.locator("#dataset-file input[type=file]").set_input_files(str(bad))
    page.locator("#dataset-upload").click()
    wait_text(page, "#dataset-report-summary", r"Refused", 60)
    report = wait_text(page, "#dataset-report", r"invalid json", 10)
    assert re.search(r"\b3\b", report), f"the report should name row 3: {report!r}"
    shot(page, "datasets-refused")

    name = f"ui-secret-{uuid.uuid4().hex[:6]}"
    good = tmp_path / f"{name}.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in _chat_rows()))
    page.locator("#dataset-file input[type=file]").set_input_files(str(good))
    field(page, "dataset-name").fill(name)
    page.locator("#dataset-upload").click()
    summary = wait_text(page, "#dataset-report-summary", rf"Stored: {name}", 60)
    assert "16" in summary and "chat" in summary, summary
    wait_text(page, "#dataset-list", name, 20)
    wait_text(page, "#dataset-preview", r"assistant: The secret word is banana", 20)
    shot(page, "datasets")

    # -- Dataset tools: a seeded split makes two versions; the template preview marks the trained tokens -----
    page.get_by_role("tab", name="Clean & split").click()
    page.locator("#dataset-op").get_by_label("Train / validation split").check()
    page.locator("#dataset-op-apply").click()
    wait_text(page, "#dataset-op-result", r"Made v2 \(train\) with 14 rows and v3 \(validation\)", 30)
    page.get_by_role("tab", name="Versions & lineage").click()
    versions = wait_text(page, "#dataset-versions", r"(?s)v3.*validation.*v2.*train.*v1", 20)
    assert "split: 10% to validation, seed 0" in versions and f"upload of {name}.jsonl" in versions, versions
    page.get_by_role("tab", name="Template preview").click()
    page.locator("#dataset-template-run").click()
    counts = wait_text(page, "#dataset-template-summary", r"trained on|failed|still", 60)
    match = re.search(r"(\d+) tokens · (\d+) trained on", counts)
    assert match and 0 < int(match.group(2)) < int(match.group(1)), counts
    tokens = page.locator("#dataset-template-tokens").text_content() or ""
    assert "trained on" in tokens and "context" in tokens and "word" in tokens, tokens
    # the tokens are drawn in (at least) two colours: trained on, and context
    colours = page.eval_on_selector_all(
        "#dataset-template-tokens .textfield *",
        """els => [...new Set(els.filter(e => !e.children.length && e.textContent.trim()).map(e => {
            let n = e;
            while (n && getComputedStyle(n).backgroundColor === 'rgba(0, 0, 0, 0)') n = n.parentElement;
            return n ? getComputedStyle(n).backgroundColor : '';
        }))]""",
    )
    assert len(colours) >= 2, colours
    shot(page, "datasets-tools")

    # -- Train: LoRA SFT on the tiny model for a few steps ---------------------------------------------------
    open_tab(page, "Train", "#train-launch")
    choose(page, "train-base-model", re.compile("tiny-llama"))
    choose(page, "train-datasets", re.compile(rf"{name} v1"))
    field(page, "train-name").fill(f"{name}-sft")
    field(page, "train-training-max-steps").fill("6")
    field(page, "train-training-learning-rate").fill("0.005")
    field(page, "train-training-max-length").fill("64")
    assert field(page, "train-adapter-type").input_value() == "lora"
    page.locator("#train-launch").click()
    result = wait_text(page, "#train-result", r"Job #\d+|Error", 30)
    match = re.search(r"Job #(\d+)", result)
    assert match, f"the job was not created: {result!r}"
    job_id = int(match.group(1))
    shot(page, "train")

    # -- Jobs: live status until succeeded, progress 100%, a loss curve --------------------------------------
    open_tab(page, "Jobs", "#jobs-table")
    wait_text(page, "#jobs-table", rf"{name}-sft", 20)
    choose(page, "jobs-select", re.compile(rf"^#{job_id} "))
    status = wait_text(page, "#jobs-status", r"succeeded|failed|cancelled", 420)
    assert re.search("succeeded", status, re.IGNORECASE), f"job {job_id} did not succeed: {status!r}"
    wait_text(page, "#jobs-progress", r"100%", 10)
    plot = page.locator("#jobs-loss-plot canvas, #jobs-loss-plot svg").first
    plot.wait_for(state="visible", timeout=20_000)
    wait_text(page, "#jobs-events", r"\S", 10)
    assert "Output model" in status
    shot(page, "jobs")

    # -- Compare: base vs tuned, side by side ----------------------------------------------------------------
    open_tab(page, "Compare", "#compare-base")
    choose(page, "compare-base", re.compile("tiny-llama"))
    tuned = page.locator("#compare-tuned").get_by_label(re.compile(rf"job #{job_id}\b"))
    for _ in range(3):  # the list loads when the tab opens; on a busy machine ask again rather than fail
        try:
            tuned.wait_for(timeout=15_000)
            break
        except PlaywrightTimeout:
            page.locator("#compare-refresh").click()
    else:
        shot(page, "compare-missing-model")
        raise AssertionError(
            f"job #{job_id} never appeared among tuned models: "
            f"{page.locator('#compare-tuned').inner_text()[:2000]!r}"
        )
    if not tuned.is_checked():
        tuned.check()
    field(page, "compare-prompt").fill(QUESTIONS[0])
    page.locator("#compare-max-new-tokens input[type=number]").fill("16")
    page.locator("#compare-generate").click()
    wait_text(page, "#compare-status", r"answers|error|failed|still", 300)
    answers = [field(page, f"compare-output-{i}").input_value() for i in range(2)]
    assert all(a.strip() for a in answers), f"both answer columns should be filled: {answers!r}"
    labels = page.locator("#compare-output-0, #compare-output-1").all_text_contents()
    assert any("tiny-llama" in label for label in labels), labels
    shot(page, "compare")
