"""In a real browser, tables are readable at 1400 and 1024 px: the text columns come first (chosen and
rejected are on screen, ids and metadata after), long text wraps inside its cell, and headers stay whole
words instead of one letter per line."""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e.browser import choose, log_in, open_page, shot, wait_text
from tests.e2e.slice_helpers import upload
from tests.stack import make_studio

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

LONG = "This answer explains the idea step by step, with an example and a caveat at the end. " * 6

HEADERS = """(selector) => [...document.querySelectorAll(selector + ' th span.header')]
    .filter(s => s.getBoundingClientRect().height > 0).map(s => {
    const box = s.getBoundingClientRect();
    return {text: s.textContent.trim(), height: box.height, left: box.left, right: box.right};
})"""
# Gradio draws the shown rows as div[role=gridcell] (its <td>s are hidden rows it measures with).
CELLS = """(selector) => [...document.querySelectorAll(selector + ' [role=gridcell]')].slice(0, 3).map(td => {
    const box = td.getBoundingClientRect();
    return {text: td.textContent.trim().slice(0, 30), width: box.width, height: box.height, left: box.left};
})"""


@pytest.fixture(scope="module")
def studio_with_rows(tmp_path_factory):
    studio = make_studio(tmp_path_factory.mktemp("ui-tables"))
    studio.start_api()
    rows = [
        {
            "id": f"pref-{i:05d}",
            "source_collection_identifier": "internal-annotation-campaign-2026",
            "annotator_notes": "checked twice",
            "prompt": f"Question {i}: how does this work?",
            "chosen": LONG,
            "rejected": "No idea.",
        }
        for i in range(6)
    ]
    try:
        with studio.client() as client:
            upload(client, "wide-prefs", "\n".join(json.dumps(r) for r in rows).encode())
        yield studio
    finally:
        studio.stop()


@pytest.mark.parametrize("width", [1400, 1024])
def test_tables_are_readable(studio_with_rows, width):
    pages = open_page(width=width)
    page = next(pages)
    try:
        log_in(page, studio_with_rows.url, studio_with_rows.admin_username, studio_with_rows.admin_password)
        choose(page, "dataset-version", re.compile("wide-prefs"))
        wait_text(page, "#dataset-preview", r"step by step", 30)
        page.wait_for_timeout(1000)
        headers = page.evaluate(HEADERS, "#dataset-preview")
        names = [h["text"] for h in headers]
        assert names[:3] == ["prompt", "chosen", "rejected"], names
        for header in headers:  # one line each: never a letter per line
            assert header["height"] < 30, headers
        rejected = headers[2]
        assert rejected["right"] <= width, headers  # the text columns are on screen without scrolling
        cells = page.evaluate(CELLS, "#dataset-preview")
        assert cells[1]["height"] > 60 and cells[1]["width"] < width / 2, cells  # long text wraps in its cell
        for selector in ("#dataset-list", "#dataset-preview"):
            for header in page.evaluate(HEADERS, selector):
                assert header["height"] < 30, (selector, header)
        shot(page, f"tables-rows-{width}")
    finally:
        pages.close()
