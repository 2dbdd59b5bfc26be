"""In a real browser, the charts are right the first time they show: the token histogram of a version's stored
profile, the job detail's step (the table's), the method metrics of each job's method when switching jobs,
integer steps on the x axis, a smoothing control, numbers formatted for people. At 1400 and 1024 px.

Jobs are seeded (tests/e2e/job_seed.py): no worker trains anything here.
"""

from __future__ import annotations

import math
import re

import pytest

from backend.db import session_scope
from backend.models.datasets import DatasetVersion
from tests.e2e.browser import choose, log_in, open_page, open_tab, shot, wait_text
from tests.e2e.job_seed import chat_version, preference_version, seed_job
from tests.stack import make_studio

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PROFILE = {
    "row_count": 8,
    "tokens_mean": 41.5,
    "tokens_p50": 40,
    "tokens_p95": 60,
    "tokens_max": 61,
    "max_length": 64,
    "share_over_max_length": 0.0,
    "histogram": [{"from": 16 + 8 * i, "to": 24 + 8 * i, "rows": r} for i, r in enumerate([1, 2, 3, 1, 1])],
    "samples": [],
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    studio = make_studio(tmp_path_factory.mktemp("ui-charts"))
    studio.start_api()
    try:
        with studio.client() as client:
            chat = chat_version(client, "charts-chat")
            prefs = preference_version(client, "charts-prefs")
            with session_scope(studio.settings.database_url) as session:
                session.get(DatasetVersion, chat).profile = PROFILE
                session.commit()
            sft = seed_job(
                studio,
                client,
                chat,
                "sft",
                name="charts-sft",
                status="running",
                step=20,
                total=80,
                metrics={
                    "loss": [(s, 2.0 - s / 20 + 0.2 * math.sin(s)) for s in range(1, 21)],
                    "learning_rate": [(s, 5e-5 * (1 - s / 80)) for s in range(1, 21)],
                    "grad_norm": [(s, 1.5 + 0.3 * math.cos(s)) for s in range(1, 21)],
                    "tokens_per_s": [(s, 12345.0 + 10 * s) for s in range(1, 21)],
                },
                seconds_running=40,
            )
            dpo = seed_job(
                studio,
                client,
                prefs,
                "dpo",
                name="charts-dpo",
                status="succeeded",
                step=6,
                total=6,
                metrics={
                    "loss": [(s, 0.69 - s / 30) for s in range(1, 7)],
                    "rewards/chosen": [(s, 0.1 * s) for s in range(1, 7)],
                    "rewards/rejected": [(s, -0.1 * s) for s in range(1, 7)],
                    "rewards/margins": [(s, 0.2 * s) for s in range(1, 7)],
                },
            )
        studio.jobs = {"sft": sft, "dpo": dpo}
        yield studio
    finally:
        studio.stop()


@pytest.mark.parametrize("width", [1400, 1024])
def test_charts_are_right_the_first_time(seeded, width):
    page_iter = open_page(width=width)
    page = next(page_iter)
    try:
        _check_charts(seeded, page, width)
    finally:
        page_iter.close()


X_LABELS = """(selector) => {
    const axis = [...document.querySelectorAll(selector + ' g.role-axis')]
        .find(g => (g.getAttribute('aria-label') || '').startsWith('X-axis'));
    return axis ? [...axis.querySelectorAll('.role-axis-label text')].map(t => t.textContent) : null;
}"""
PLOT_TEXT = "(selector) => [...document.querySelectorAll(selector + ' svg text')].map(t => t.textContent)"


def _x_labels(page, selector: str) -> list[str]:
    for _ in range(40):
        labels = page.evaluate(X_LABELS, selector)
        if labels:
            return labels
        page.wait_for_timeout(250)
    axes = page.evaluate(
        "(s) => [...document.querySelectorAll(s + ' [aria-label], ' + s + ' g')].map(g => "
        "(g.getAttribute('class') || '') + '|' + (g.getAttribute('aria-label') || '')).slice(0, 40)",
        selector,
    )
    raise AssertionError(f"{selector} has no x axis: {axes!r}")


def _wait_plot_text(page, selector: str, pattern: str) -> list[str]:
    texts: list[str] = []
    for _ in range(60):
        texts = page.evaluate(PLOT_TEXT, selector)
        if any(re.search(pattern, t) for t in texts):
            return texts
        page.wait_for_timeout(250)
    raise AssertionError(f"{selector} never drew {pattern!r}: {texts!r}")


def _no_error_toast(page) -> None:
    toasts = page.locator(".toast-body")
    assert toasts.count() == 0 or not toasts.first.is_visible(), toasts.first.inner_text()


def _check_histogram(page, width: int) -> None:
    choose(page, "dataset-version", re.compile(r"charts-chat"))
    page.get_by_role("tab", name="Token profile").click()
    # First show: the stored profile was drawn while its tab was hidden.
    labels = _x_labels(page, "#dataset-profile-histogram")
    assert [label.strip() for label in labels] == ["16–23", "24–31", "32–39", "40–47", "48–55"], labels
    texts = page.evaluate(PLOT_TEXT, "#dataset-profile-histogram")
    assert not any("NaN" in t for t in texts), texts
    shot(page, f"charts-histogram-{width}")


def _check_charts(studio, page, width):
    log_in(page, studio.url, studio.admin_username, studio.admin_password)
    _check_histogram(page, width)

    open_tab(page, "Jobs", "#jobs-table")
    sft, dpo = studio.jobs["sft"], studio.jobs["dpo"]
    wait_text(page, "#jobs-table", "charts-sft", 30)
    choose(page, "jobs-select", re.compile(rf"^#{sft['id']} "))
    status = wait_text(page, "#jobs-status", r"charts-sft", 30)
    row = page.locator("#jobs-table").inner_text()
    found = re.search(r"charts-sft\s+running\b[^\t\n]*\s+(\d+/\d+)", row)  # Name, Status, Step
    assert found, row
    table_step = found.group(1)
    assert table_step == "20/80" and f"step {table_step}" in status, (row, status)
    assert "12,545" in status, status  # tokens/s for people, not 1.254e+04
    _wait_plot_text(page, "#jobs-metric-plot", r"grad_norm")
    labels = _x_labels(page, "#jobs-loss-plot")
    assert all(re.fullmatch(r"\d+", label) for label in labels), labels
    assert labels[0] == "0" and labels[-1] == "80", labels  # the whole run: 20 of 80 steps done

    # Smoothing adds a smoothed curve beside the raw one.
    page.locator("#jobs-smoothing input[type=range]").fill("0.8")
    page.locator("#jobs-smoothing input[type=range]").dispatch_event("pointerup")
    _wait_plot_text(page, "#jobs-loss-plot", r"loss \(smoothed\)")
    shot(page, f"charts-sft-{width}")

    # Another job, another method: its own metrics, never the previous job's pick (and no error).
    choose(page, "jobs-select", re.compile(rf"^#{dpo['id']} "))
    wait_text(page, "#jobs-status", r"charts-dpo", 30)
    _wait_plot_text(page, "#jobs-metric-plot", r"rewards/chosen")
    picked = page.locator("#jobs-metric").inner_text()
    assert "rewards/chosen" in picked and "grad_norm" not in picked, picked
    labels = _x_labels(page, "#jobs-metric-plot")
    assert all(re.fullmatch(r"\d+", label) for label in labels), labels
    page.wait_for_timeout(3000)  # a few polls of the timer: still no error
    _no_error_toast(page)
    shot(page, f"charts-dpo-{width}")
