"""Driving the studio in a real browser: Debian Chromium through Playwright, and the small helpers every
browser test shares (Gradio's inputs by elem_id, waiting for text, screenshots, logging in).

Needs Chromium at /usr/bin/chromium (`make browser`). Screenshots go to tests/e2e/screenshots/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).parent / "screenshots"


def open_page(width: int = 1400, height: int = 1000) -> Iterator[sync_api.Page]:
    """A fresh headless Chromium page (a generator for fixtures)."""
    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium is missing at /usr/bin/chromium: run `make browser` "
            "(apt-get install -y chromium chromium-driver)"
        )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()


def field(page, elem_id: str):
    """The text input inside a Gradio component (textboxes render as <textarea> or <input>)."""
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def choose(page, elem_id: str, option: str | re.Pattern) -> None:
    """Pick an option of a Gradio dropdown by (part of) its label."""
    field(page, elem_id).click()
    page.get_by_role("option", name=option).first.click()
    page.keyboard.press("Escape")


def wait_text(page, selector: str, pattern: str, timeout_s: float) -> str:
    """Wait until the element's text matches `pattern` (regex, case-insensitive); return the text."""
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = page.locator(selector).first.text_content() or ""
        if re.search(pattern, text, re.IGNORECASE):
            return text
        time.sleep(0.5)
    raise AssertionError(f"{selector} never matched {pattern!r} in {timeout_s}s; last text: {text!r}")


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/ui/")
    field(page, "login-username").wait_for(timeout=60_000)
    for _ in range(3):  # the first click can land before the page has wired its events
        field(page, "login-username").fill(username)
        field(page, "login-password").fill(password)
        page.locator("#login-button").click()
        try:
            page.locator("#studio").wait_for(state="visible", timeout=10_000)
            return
        except sync_api.TimeoutError:
            continue
    raise AssertionError(f"login failed: {page.locator('#login-message').text_content()!r}")


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium is missing at /usr/bin/chromium: run `make browser` "
            "(apt-get install -y chromium chromium-driver)"
        )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()
