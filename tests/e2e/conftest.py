"""Fixtures every end-to-end test may use: a headless Chromium page (tests/e2e/browser.py)."""

from __future__ import annotations

import pytest

from tests.e2e.browser import open_page


@pytest.fixture
def page():
    yield from open_page()
