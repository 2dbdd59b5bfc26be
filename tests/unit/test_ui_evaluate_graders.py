"""The Evaluate tab's classifier and judge options become grader specs; the views show a judge's verdicts and
the count of verdicts without a score."""

from __future__ import annotations

import math

from ui.evaluation_view import rows_frame, summary_markdown
from ui.tabs import evaluate
from ui.tabs.evaluate_graders import model_grader_specs


def test_model_grader_options_become_specs():
    assert model_grader_specs(None, "kind", None, "rubric", 1, 10) == []
    assert model_grader_specs(3, " positive ", 5, "", 1, 10) == [
        {"kind": "classifier", "classifier_model_id": 3, "label": "positive"},
        {"kind": "judge", "judge_model_id": 5, "score_min": 1, "score_max": 10},
    ]
    judge = model_grader_specs(None, "", 5, "Grade {answer}", 0, 5)[0]
    assert judge["rubric"] == "Grade {answer}" and judge["score_min"] == 0
    assert "label" not in model_grader_specs(3, "  ", None, "", 1, 10)[0]  # a one-label reward model


def test_launch_sends_the_judge_alone(monkeypatch):
    sent = {}

    class Client:
        def create_evaluation(self, body):
            sent.update(body)
            return {"id": 7}

    monkeypatch.setattr(evaluate, "client_for", lambda *_: Client())
    options = (None, "", 4, "", 1, 10)
    message, new_id = evaluate.launch("u", "t", "generation", 1, [], 2, None, None, [], 10, 8, "", *options)
    assert new_id == 7 and sent["spec"]["graders"] == [
        {"kind": "judge", "judge_model_id": 4, "score_min": 1, "score_max": 10}
    ]
    message, new_id = evaluate.launch("u", "t", "generation", 1, [], 2, None, None, [], 10, 8, "")
    assert new_id is None and "grader" in message


def test_views_show_verdicts_and_unparseable():
    summary = {
        "graders": ["judge_m1"],
        "models": {"m1": "base"},
        "task": {
            "rows": 2,
            "models": {
                "m1": {
                    "graders": {"judge_m1": {"mean": 0.5, "low": 0.5, "high": 0.5, "unparseable": 1}},
                    "mean_new_tokens": 3.0,
                }
            },
        },
    }
    assert "0.500 [0.500, 0.500] · 1 unparseable" in summary_markdown(summary)
    rows = [
        {
            "row_index": i,
            "messages": [{"role": "user", "content": "q"}],
            "reference": "r",
            "outputs": {
                "m1": {
                    "text": "a",
                    "scores": {"judge_m1": score},
                    "evidence": {"judge_m1": {"judge_text": verdict, "parsed": score is not None}},
                }
            },
        }
        for i, (score, verdict) in enumerate([(0.5, "Score: 5"), (None, "no idea")])
    ]
    frame = rows_frame(rows, summary)
    assert frame.iloc[0]["base (1) · judge_m1"] == 0.5 and math.isnan(frame.iloc[1]["base (1) · judge_m1"])
    assert list(frame["base (1) · judge_m1 verdict"]) == ["Score: 5", "no idea"]
