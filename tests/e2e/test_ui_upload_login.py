"""In a real browser: Gradio's upload route refuses a visitor, accepts the same browser once it has logged in
to the UI (the login's ticket becomes an HttpOnly cookie), and refuses it again after logout."""

from __future__ import annotations

import pytest

from tests.e2e.browser import log_in
from tests.stack import make_studio

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

UPLOAD_FROM_PAGE = """async () => {
  const form = new FormData();
  form.append('files', new Blob(['hello'], {type: 'text/plain'}), 'hello.txt');
  const response = await fetch('/ui/gradio_api/upload',
    {method: 'POST', body: form, credentials: 'same-origin'});
  return [response.status, document.cookie];
}"""


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    studio = make_studio(tmp_path_factory.mktemp("ui-upload"))
    studio.start_api()
    try:
        yield studio
    finally:
        studio.stop()


def _upload_status(browser_page, expected: int, attempts: int = 20) -> int:
    status = 0
    for _ in range(attempts):  # the cookie is set by a request the login fires after it returns
        status, cookies = browser_page.evaluate(UPLOAD_FROM_PAGE)
        assert "afina_ui_session" not in cookies  # HttpOnly: scripts on the page never see it
        if status == expected:
            return status
        browser_page.wait_for_timeout(500)
    return status


def test_the_upload_route_follows_the_ui_login(api, page):
    page.goto(f"{api.url}/ui/")
    page.locator("#login-username").wait_for(timeout=60_000)
    assert _upload_status(page, 401, attempts=1) == 401

    log_in(page, api.url, api.admin_username, api.admin_password)
    assert _upload_status(page, 200) == 200

    page.locator("#logout-button").click()
    assert _upload_status(page, 401) == 401
