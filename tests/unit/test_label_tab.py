"""The Label tab's plain handlers: answers typed or keyed in become the API's answer objects; candidates are
rendered without model names."""

from __future__ import annotations

import pytest

from ui.tabs.label import parse_answer, render_candidates


def test_answers_from_the_form():
    assert parse_answer("pairwise", "tie", "", "") == {"choice": "tie"}
    assert parse_answer("rank", None, "2>1=3", "") == {"ranking": [[2], [1, 3]]}
    assert parse_answer("rank", None, "both bad", "") == {"choice": "both_bad"}
    assert parse_answer("thumbs", None, "", "1+ 2-") == {"thumbs": {"1": True, "2": False}}
    assert parse_answer("rating", None, "", "1:6, 2:3") == {"ratings": {"1": 6, "2": 3}}
    for mode, choice, ranking, values in [
        ("pairwise", None, "", ""),
        ("rank", None, "", ""),
        ("rating", None, "", "1=6"),
    ]:
        with pytest.raises(ValueError):
            parse_answer(mode, choice, ranking, values)


def test_candidates_side_by_side_with_keys_and_no_provenance():
    item = {
        "mode": "pairwise",
        "candidates": [{"position": 1, "text": "<b>x</b>"}, {"position": 2, "text": ""}],
    }
    shown = render_candidates(item)
    assert "&lt;b&gt;x&lt;/b&gt;" in shown and "(key 2)" in shown and "(empty)" in shown and ">A<" in shown
