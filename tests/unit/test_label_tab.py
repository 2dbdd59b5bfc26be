"""The Label tab's plain handlers: answers typed or keyed in become the API's answer objects; candidates are
rendered without model names."""

from __future__ import annotations

import pytest

from ui.tabs.label import parse_answer, render_candidates
from ui.tabs.label_quality import quality_figure, quality_summary


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


def test_quality_view_summary_and_plot():
    quality = {
        "labels": 8,
        "labelers": 2,
        "percent_agreement": 0.5,
        "alpha": 0.1,
        "agreement_threshold": 0.8,
        "per_labeler": [
            {"username": "ann", "agreement_with_others": 0.5, "kendall_tau": 0.0, "gold_accuracy": None},
            {"username": "bob", "agreement_with_others": 0.5, "kendall_tau": 0.0, "gold_accuracy": 1.0},
        ],
        "worst_items": [{"item_id": 3, "agreement": 0.0}],
        "position_bias": {"first_shown_wins": 0.75, "comparisons": 8},
        "length_bias": {"longer_wins": 0.25, "comparisons": 8},
        "median_seconds": 3.5,
        "ai": {"labels": 2, "judges": ["ai:judge"], "agreement_with_humans": {"ai:judge": 1.0}},
        "human_ceiling": 0.5,
        "reward_models": [
            {
                "job_id": 7,
                "name": "rm",
                "status": "succeeded",
                "accuracy": 0.75,
                "held_out_pairs": 4,
                "measured_at_step": 10,
                "attached": True,
            }
        ],
    }
    summary = quality_summary(quality)
    assert "50%" in summary and "below the threshold 80%" in summary and "#3 (0%)" in summary
    assert "ai:judge 100%" in summary
    assert "accuracy **75%** on 4 held-out pairs" in summary and "ceiling **50%**" in summary
    figure = quality_figure(quality)
    assert [trace.name for trace in figure.data][:3] == [
        "agreement with others",
        "Kendall tau",
        "gold accuracy",
    ]
    assert figure.data[-1].name == "reward model accuracy" and list(figure.data[-1].y) == [0.75]
