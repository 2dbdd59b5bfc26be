"""The UI's pure helpers behind the queue, the charts and the session: time left from measured step time,
why a queued job waits, smoothing, the step axis, numbers for people, the session cookie's token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ui.app import session_token
from ui.tabs.datasets.shared import column_widths, rows_table
from ui.tabs.jobs.metrics import MIN_STEP_SPAN, human, metric_frame, smooth, step_range
from ui.tabs.jobs.queue import duration, queue_md, seconds_left, status_cell

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _running(**extra) -> dict:
    started = (NOW - timedelta(seconds=40)).isoformat()
    job = {"id": 1, "name": "run", "status": "running", "started_at": started, "current_step": 20}
    return {**job, "total_steps": 80, "owner": "alice", **extra}


def test_time_left_comes_from_the_measured_step_time():
    assert seconds_left(_running(), NOW) == 120.0  # 2 s a step, 60 steps to go
    assert seconds_left(_running(current_step=0), NOW) is None
    assert seconds_left(_running(total_steps=None), NOW) is None
    assert seconds_left(_running(status="queued"), NOW) is None
    assert [duration(s) for s in (None, 0.2, 42, 120, 4000)] == ["", "~1 s", "~42 s", "~2 min", "~1 h 7 min"]
    assert status_cell(_running(), NOW) == "running · ~2 min left"
    assert status_cell({"status": "queued", "queue_position": 3}) == "queued · #3 in line"


def test_a_queued_job_says_what_runs_and_waits_ahead_of_it():
    first = {"id": 2, "name": "first", "status": "queued", "queue_position": 1, "owner": "bob"}
    mine = {"id": 3, "name": "mine", "status": "queued", "queue_position": 2, "owner": "me"}
    behind = {"id": 4, "name": "behind", "status": "queued", "queue_position": 3}
    text = queue_md(mine, [_running(), first, mine, behind], NOW)
    assert "**#2 in line.**" in text
    assert "#1 run (running, alice, step 20/80, ~2 min left)" in text
    assert "#2 first (queued #1, bob)" in text and "behind" not in text
    assert "Starts in **~2 min** at the earliest plus the time of the queued jobs ahead" in text
    assert "nothing runs ahead" in queue_md(first, [first], NOW)
    assert queue_md(_running(), [_running()], NOW) == ""


def test_smoothing_keeps_the_raw_series_and_adds_a_smoothed_one():
    assert smooth([1.0, 2.0, 3.0], 0.0) == [1.0, 2.0, 3.0]
    smoothed = smooth([1.0, 1.0, 5.0], 0.5)
    assert smoothed[0] == 1.0 and 1.0 < smoothed[2] < 5.0  # debiased: the first point is the first value
    frame = metric_frame({"loss": [(1, 2.0), (2, 1.0)]}, ["loss"], smoothing=0.6)
    assert list(dict.fromkeys(frame["metric"])) == ["loss", "loss (smoothed)"]


def test_the_step_axis_spans_the_run_and_numbers_read_well():
    assert step_range({"loss": [(1, 1.0), (6, 0.5)]}, 6) == [0, MIN_STEP_SPAN]
    assert step_range({"loss": [(1, 1.0), (20, 0.5)]}, 80) == [0, 80]
    assert step_range({"loss": [(120, 1.0)]}, None) == [0, 120]
    assert [human(v) for v in (12545.3, 1.18274, 0.0421, 3.75e-05, 7, 2.0, "x")] == [
        "12,545",
        "1.183",
        "0.0421",
        "3.75e-05",
        "7",
        "2",
        "x",
    ]


def test_text_fields_come_first_and_get_the_width():
    table = rows_table([{"id": "a", "rejected": "no", "chosen": "yes", "prompt": "q"}])
    assert list(table.columns) == ["prompt", "chosen", "rejected", "id"]
    assert column_widths(list(table.columns)) == ["30.0%", "30.0%", "30.0%", "10.0%"]


def test_the_session_token_is_read_from_the_cookie_header():
    assert session_token("a=1; afina_ui_session=afn_secret; b=2") == "afn_secret"
    assert session_token("a=1") == "" and session_token(None) == "" and session_token('bad="') == ""
