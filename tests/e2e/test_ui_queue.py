"""In a real browser, the queue is readable: each queued job's place in line and what runs or waits ahead of
it (with owners and the time left from the running job's measured step time), the picker starts on one's own
job rather than another user's newer one, the log shows live, and Cancel asks before it cancels.

Jobs are seeded (tests/e2e/job_seed.py): no worker runs them, so the queue stays put. At 1400 and 1024 px.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from backend.db import session_scope
from backend.models.users import Role
from backend.services import users
from tests.e2e.browser import choose, field, log_in, open_page, open_tab, shot, wait_text
from tests.e2e.job_seed import chat_version, seed_job
from tests.stack import make_studio

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def queue(tmp_path_factory):
    studio = make_studio(tmp_path_factory.mktemp("ui-queue"))
    studio.start_api()
    with session_scope(studio.settings.database_url) as session:
        alice, _ = users.create_user(session, "alice", Role.engineer, "alice-password-1")
        alice_token = users.issue_token(session, alice)
    try:
        with studio.client() as admin, studio.client(alice_token) as other:
            version = chat_version(admin, "queue-chat")
            # shared with the studio, so alice may train on it too
            dataset_id = admin.get(f"/api/datasets/versions/{version}").json()["dataset_id"]
            shared = admin.patch(f"/api/datasets/{dataset_id}", json={"visibility": "shared"})
            assert shared.status_code == 200, shared.text
            seeded = {
                "running": seed_job(
                    studio,
                    other,
                    version,
                    "sft",
                    name="alice-running",
                    status="running",
                    step=20,
                    total=80,
                    seconds_running=40,
                    events=["Loaded 8 rows", "Step 20: loss 1.2"],
                ),
                "first": seed_job(studio, other, version, "sft", name="alice-first"),
                "mine": seed_job(studio, admin, version, "sft", name="admin-second"),
                "newest": seed_job(studio, other, version, "sft", name="alice-third"),
            }
        studio.seeded = seeded
        yield studio
    finally:
        studio.stop()


@pytest.mark.parametrize("width", [1400, 1024])
def test_the_queue_says_why_a_job_waits_and_cancel_asks(queue, width):
    pages = open_page(width=width)
    page = next(pages)
    try:
        _check_queue(queue, page, width)
    finally:
        pages.close()


def _check_queue(studio, page, width):
    jobs = studio.seeded
    log_in(page, studio.url, studio.admin_username, studio.admin_password)
    open_tab(page, "Jobs", "#jobs-table")
    table = wait_text(page, "#jobs-table", r"alice-third", 30)
    assert re.search(r"admin-second\s+queued · #2 in line", table), table
    assert re.search(r"alice-running\s+running · ~\d+ (s|min) left\s+20/80\s+25%\s+alice", table), table

    # The picker starts on the admin's own job, not alice's newer one.
    wait_text(page, "#jobs-status", r"admin-second", 30)
    assert f"#{jobs['mine']['id']} admin-second" in field(page, "jobs-select").input_value()
    status = wait_text(page, "#jobs-status", r"in line", 30)
    assert "#2 in line" in status and "owner admin" in status, status
    assert re.search(
        rf"#{jobs['running']['id']} alice-running \(running, alice, step 20/80, ~\d+ (s|min) left\)", status
    )
    assert f"#{jobs['first']['id']} alice-first (queued #1, alice)" in status, status
    assert re.search(r"Starts in ~\d+ (s|min) at the earliest", status), status
    assert "alice-third" not in status  # behind it, not ahead
    shot(page, f"queue-{width}")

    # The running job's log is there, newest first.
    choose(page, "jobs-select", re.compile(rf"^#{jobs['running']['id']} "))
    log = wait_text(page, "#jobs-events", r"Step 20: loss 1.2", 30)
    assert log.index("Step 20") < log.index("Loaded 8 rows"), log

    # Cancel asks first, naming the job and its owner; "keep" leaves it running.
    page.locator("#jobs-cancel").click()
    question = wait_text(page, "#jobs-cancel-question", r"Cancel job", 30)
    assert f"#{jobs['running']['id']} alice-running" in question and "owned by alice" in question, question
    shot(page, f"queue-cancel-question-{width}")
    page.locator("#jobs-cancel-no").click()
    # Gradio may keep a hidden copy of a group it toggles: what matters is that no question is shown.
    expect(page.locator("#jobs-cancel-confirm:visible")).to_have_count(0, timeout=30_000)
    with studio.client() as client:
        assert client.get(f"/api/jobs/{jobs['running']['id']}").json()["status"] == "running"

    if width == 1024:  # once: the admin cancels their own queued job after saying yes
        choose(page, "jobs-select", re.compile(rf"^#{jobs['mine']['id']} "))
        wait_text(page, "#jobs-status", r"admin-second", 30)
        page.locator("#jobs-cancel").click()
        wait_text(page, "#jobs-cancel-question", r"admin-second", 30)
        page.locator("#jobs-cancel-yes").click()
        wait_text(page, "#jobs-action-result", r"is now \*?\*?cancelled|now cancelled", 30)
        with studio.client() as client:
            assert client.get(f"/api/jobs/{jobs['mine']['id']}").json()["status"] == "cancelled"
