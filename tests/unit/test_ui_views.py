"""The UI's pure view functions: smoothing, run-comparison tables and plots, evaluation summaries."""

from __future__ import annotations

import pytest

from ui.evaluation_view import metric_figure, rows_frame, summary_markdown, wins_figure
from ui.tabs.runs import curves_figure, diff_frame, smooth


def test_smoothing_is_debiased_and_off_at_zero():
    values = [1.0, 1.0, 1.0, 3.0]
    assert smooth(values, 0.0) == values
    smoothed = smooth(values, 0.5)
    assert smoothed[:3] == pytest.approx([1.0, 1.0, 1.0])  # a constant stays put: no pull toward zero
    assert 1.0 < smoothed[3] < 3.0


def test_run_comparison_views():
    comparison = {
        "jobs": [{"id": 3, "name": "a"}, {"id": 4, "name": "b"}],
        "metrics": {"3": {"loss": [[1, 2.0], [2, 1.0]]}, "4": {"loss": [[1, 2.5]], "kl": [[1, 0.1]]}},
        "config_diff": [{"setting": "spec.training.learning_rate", "values": {"3": 1e-4, "4": None}}],
        "evaluations": [],
    }
    figure = curves_figure(comparison, "loss", 0.0)
    assert [trace.name for trace in figure.data] == ["#3 a", "#4 b"]
    assert list(figure.data[0].x) == [1, 2]
    frame = diff_frame(comparison)
    assert list(frame.columns) == ["setting", "#3", "#4"] and frame.iloc[0]["#4"] == "–"


SUMMARY = {
    "graders": ["rougeL"],
    "models": {"m1": "base", "m2": "tuned"},
    "task": {
        "rows": 3,
        "models": {
            "m1": {"graders": {"rougeL": {"mean": 0.2, "low": 0.1, "high": 0.3}}, "mean_new_tokens": 5.0},
            "m2": {"graders": {"rougeL": {"mean": 0.4, "low": 0.3, "high": 0.5}}, "mean_new_tokens": 6.0},
        },
        "comparisons": {
            "m2": {
                "rougeL": {
                    "wins": 2,
                    "ties": 1,
                    "losses": 0,
                    "mean_difference": 0.2,
                    "difference_low": 0.1,
                    "difference_high": 0.3,
                    "sign_test_p": 0.5,
                }
            }
        },
    },
    "forgetting": {
        "m2": {"task_gain": 0.2, "general_before": 0.5, "general_after": 0.3, "drop": 0.2, "flagged": True}
    },
}


def test_evaluation_summary_views():
    text = summary_markdown(SUMMARY)
    assert "tuned (2)" in text and "0.400 [0.300, 0.500]" in text and "forgetting above the threshold" in text
    bars = metric_figure(SUMMARY)
    assert [trace.name for trace in bars.data] == ["base (1)", "tuned (2)"]
    assert list(bars.data[1].error_y.array) == pytest.approx([0.1])
    wins = wins_figure(SUMMARY)
    assert [trace.name for trace in wins.data] == ["wins", "ties", "losses"]
    rows = [
        {
            "row_index": 0,
            "messages": [{"role": "user", "content": "q"}],
            "reference": "r",
            "outputs": {
                "m1": {"text": "a", "scores": {"rougeL": 0.1}},
                "m2": {"text": "b", "scores": {"rougeL": 0.9}},
            },
        }
    ]
    frame = rows_frame(rows, SUMMARY)
    assert list(frame.columns)[:3] == ["row", "question", "reference"] and frame.iloc[0]["tuned (2)"] == "b"


def test_job_status_shows_tokens_per_second_and_mfu():
    from ui.tabs.jobs.view import _status_md

    job = {
        "id": 7,
        "name": "sft",
        "status": "running",
        "current_step": 3,
        "total_steps": 10,
        "method": "sft",
        "base_model_id": 1,
        "created_at": "2026-12-04T12:00:00Z",
        "metrics": {"loss": [[3, 1.5]], "tokens_per_s": [[2, 500.0], [3, 560.4]], "mfu": [[3, 0.3812]]},
    }
    text = _status_md(job)
    assert "Throughput **560 tokens/s** · MFU **38.1 %** of the device's measured peak" in text
    job["metrics"] = {"loss": [[3, 1.5]]}
    assert "Throughput" not in _status_md(job)
