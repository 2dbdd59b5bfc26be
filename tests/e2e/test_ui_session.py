"""In a real browser: a login survives a reload and a second tab through an HttpOnly session cookie that page
JavaScript cannot read, and logging out ends the session on the server (the API refuses the old cookie).

Needs Chromium at /usr/bin/chromium (`make browser`).
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.browser import log_in, shot, wait_text
from tests.stack import make_studio

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

COOKIE = "afina_ui_session"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    studio = make_studio(tmp_path_factory.mktemp("ui-session"))
    studio.start_api()
    try:
        yield studio
    finally:
        studio.stop()


def _session_cookie(page, timeout_s: float = 30) -> dict:
    """The browser's session cookie, once the request the login fires after it returns has set it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [c for c in page.context.cookies() if c["name"] == COOKIE]
        if found:
            return found[0]
        page.wait_for_timeout(300)
    raise AssertionError(f"no {COOKIE} cookie after login: {page.context.cookies()!r}")


def _signed_in_again(page) -> None:
    page.locator("#studio").wait_for(state="visible", timeout=60_000)
    assert not page.locator("#login-panel").is_visible()
    wait_text(page, "#studio-user", r"Signed in as .*admin", 20)


def test_a_reload_and_a_second_tab_stay_signed_in_and_logout_kills_the_cookie(api, page):
    log_in(page, api.url, api.admin_username, api.admin_password)
    cookie = _session_cookie(page)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/", cookie
    assert not cookie["secure"]  # served over plain HTTP here; HTTPS makes it Secure (a unit test checks)
    token = cookie["value"]
    assert token.startswith("afn_")
    # Page JavaScript never sees the token: not in document.cookie, not in the page, not in storage.
    assert COOKIE not in page.evaluate("document.cookie")
    assert token not in page.content()
    assert token not in page.evaluate("JSON.stringify({...localStorage, ...sessionStorage})")

    page.reload()
    _signed_in_again(page)
    wait_text(page, "#dataset-list", r"\S", 30)  # the tabs load their data with the resumed session
    assert token not in page.content()
    shot(page, "session-after-reload")

    # A second tab shares the browser's cookies (Playwright's page owns its context: copy the cookie jar).
    other = page.context.browser.new_context(storage_state=page.context.storage_state())
    second = other.new_page()
    second.goto(f"{api.url}/ui/")
    _signed_in_again(second)
    other.close()

    with httpx.Client(base_url=api.url, timeout=30) as client:
        me = client.get("/api/auth/ui-session", cookies={COOKIE: token})
        assert me.status_code == 200 and me.json()["username"] == api.admin_username, me.text

    page.locator("#logout-button").click()
    page.locator("#login-panel").wait_for(state="visible", timeout=30_000)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(c["name"] == COOKIE for c in page.context.cookies()):
        page.wait_for_timeout(300)
    assert not any(c["name"] == COOKIE for c in page.context.cookies())
    with httpx.Client(base_url=api.url, timeout=30) as client:
        refused = client.get("/api/auth/ui-session", cookies={COOKIE: token})
        assert refused.status_code == 401, refused.text
        assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    # A browser that kept the old cookie (copied before logout) is shown the login form, not the studio.
    page.context.add_cookies([{"name": COOKIE, "value": token, "url": api.url}])
    page.reload()
    page.locator("#login-panel").wait_for(state="visible", timeout=60_000)
    assert not page.locator("#studio").is_visible()
    shot(page, "session-after-logout")
