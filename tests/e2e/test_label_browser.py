"""A labeler in a real browser: logs in, sees only the Label tab, labels with the keyboard alone (1, 2, Enter,
s), and the labels arrive through the API. Screenshots go to tests/e2e/screenshots/."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.browser import log_in, shot, wait_text
from tests.e2e.slice_helpers import upload
from tests.factories import preference_pairs

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]


def _campaign_and_labeler(studio) -> tuple[dict, str, str]:
    engineer = studio.client()
    suffix = uuid.uuid4().hex[:6]
    rows = "\n".join(json.dumps(r) for r in preference_pairs(3, seed=11)).encode()
    version = upload(engineer, f"label-ui-{suffix}", rows)["versions"][0]
    campaign = engineer.post(
        "/api/labeling/campaigns",
        json={
            "name": f"ui-{suffix}",
            "guidelines": "## Pick the *kinder* answer",
            "version_id": version["id"],
        },
    ).json()
    username, password = f"keyboard-{suffix}", "labeler-pass-1"
    made = engineer.post("/api/users", json={"username": username, "role": "labeler", "password": password})
    assert made.status_code == 201, made.text
    return campaign, username, password


def test_a_labeler_labels_with_the_keyboard_only(studio, page):
    campaign, username, password = _campaign_and_labeler(studio)
    log_in(page, studio.url, username, password)
    page.locator("#label-candidates").get_by_text("key 1").wait_for(timeout=60_000)
    for hidden in ("Datasets", "Train", "Jobs", "Compare", "Evaluate", "Runs", "Arena"):
        assert (
            page.get_by_role("tab", name=hidden).count() == 0
            or not page.get_by_role("tab", name=hidden).is_visible()
        )
    assert page.get_by_role("tab", name="Label").is_visible()
    wait_text(page, "#label-guidelines", "kinder", 30)
    shot(page, "label-1-first-item")

    page.locator("body").click(position={"x": 5, "y": 5})  # focus the page, not a field
    page.keyboard.press("1")
    assert page.locator("#label-choice input[value='A']").is_checked()
    page.keyboard.press("Enter")
    wait_text(page, "#label-progress", r"You labeled 1\b", 60)
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    wait_text(page, "#label-progress", r"You labeled 2\b", 60)
    shot(page, "label-2-after-two")
    page.keyboard.press("s")
    wait_text(page, "#label-message", "Nothing left", 60)
    shot(page, "label-3-done")

    labels = []
    engineer = studio.client()
    for item in engineer.get(f"/api/labeling/campaigns/{campaign['id']}/items").json():
        labels += engineer.get(f"/api/labeling/campaigns/{campaign['id']}/items/{item['id']}/labels").json()
    assert sorted(lb["answer"]["choice"] for lb in labels) == ["A", "B"]
