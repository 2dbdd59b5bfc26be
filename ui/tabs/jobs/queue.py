"""Jobs › queue: why a job waits and for how long — its place in line, what runs or waits ahead of it and
whose it is, and time left from each running job's measured step time."""

from __future__ import annotations

import html
from datetime import UTC, datetime


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def seconds_left(job: dict, now: datetime | None = None) -> float | None:
    """A running job's time to finish from its measured step time (time since start / steps done); None
    when it is not running, has done no step yet or does not know its number of steps."""
    started, done, total = _parse(job.get("started_at")), job.get("current_step") or 0, job.get("total_steps")
    if job.get("status") != "running" or not started or done <= 0 or not total:
        return None
    elapsed = ((now or datetime.now(UTC)) - started).total_seconds()
    return max(0.0, elapsed / done * max(0, total - done))


def duration(seconds: float | None) -> str:
    """'~40 s', '~3 min', '~1 h 20 min'; '' when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"~{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"~{minutes} min" if minutes < 60 else f"~{minutes // 60} h {minutes % 60} min"


def status_cell(job: dict, now: datetime | None = None) -> str:
    """The Status column: 'queued · #2 in line', 'running · ~3 min left', or the plain status."""
    if job.get("status") == "queued" and job.get("queue_position"):
        return f"queued · #{job['queue_position']} in line"
    left = duration(seconds_left(job, now))
    return f"{job['status']} · {left} left" if left else str(job.get("status", ""))


def _ahead_line(other: dict, now: datetime | None) -> str:
    owner = f", {html.escape(other['owner'])}" if other.get("owner") else ""
    if other["status"] == "running":
        step = f"step {other['current_step']}" + (
            f"/{other['total_steps']}" if other.get("total_steps") else ""
        )
        left = duration(seconds_left(other, now))
        return f"#{other['id']} {html.escape(other['name'])} (running{owner}, {step}" + (
            f", {left} left)" if left else ")"
        )
    return f"#{other['id']} {html.escape(other['name'])} (queued #{other.get('queue_position')}{owner})"


def queue_md(job: dict, jobs: list[dict], now: datetime | None = None) -> str:
    """For a queued job: its place in line, the jobs running or queued ahead of it, and the least time before
    it can start (the running jobs' time left; queued ones ahead add their own, unknown until they run)."""
    position = job.get("queue_position")
    if job.get("status") != "queued" or not position:
        return ""
    running = [j for j in jobs if j.get("status") == "running"]
    queued = sorted(
        (j for j in jobs if j.get("status") == "queued" and (j.get("queue_position") or 0) < position),
        key=lambda j: j["queue_position"],
    )
    ahead = [*running, *queued]
    if not ahead:
        return f"**#{position} in line:** nothing runs ahead of it; it starts when a training worker is free."
    lines = [f"**#{position} in line.** Ahead of it:"]
    lines += [f"- {_ahead_line(other, now)}" for other in ahead]
    waits = [seconds_left(other, now) for other in running]
    known = [w for w in waits if w is not None]
    if known:
        least = min(known)
        more = " plus the time of the queued jobs ahead" if queued else ""
        lines.append(f"\nStarts in **{duration(least)}** at the earliest{more}.")
    return "\n".join(lines)
