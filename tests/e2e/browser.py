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
    """Sign in through the login form. A login can take many seconds on a loaded machine (Argon2, then the
    profile and the API schema), so each click gets a long wait; a click is repeated only while the form is
    still showing with no answer (the first one can land before Gradio has wired its events)."""
    page.goto(f"{url}/ui/")
    field(page, "login-username").wait_for(timeout=60_000)
    studio, panel = page.locator("#studio"), page.locator("#login-panel")
    for _ in range(3):
        if studio.is_visible():
            return
        if panel.is_visible():
            field(page, "login-username").fill(username)
            field(page, "login-password").fill(password)
            page.locator("#login-button").click()
        try:
            studio.wait_for(state="visible", timeout=45_000)
            return
        except sync_api.TimeoutError:
            message = (page.locator("#login-message").text_content() or "").strip()
            if message:
                raise AssertionError(f"login refused: {message!r}") from None
    raise AssertionError("login never finished: the studio did not appear after three tries")


def open_tab(page, name: str, probe: str) -> None:
    """Click a studio tab and wait for one of its elements (`probe`, a selector) to show. Right after login
    the UI sets which tabs the role may see, which can reselect the first tab: click again if so."""
    for _ in range(3):
        page.get_by_role("tab", name=name).click()
        try:
            page.locator(probe).first.wait_for(state="visible", timeout=10_000)
            return
        except sync_api.TimeoutError:
            continue
    raise AssertionError(f"the {name} tab never showed {probe}")
