"""An evaluation's per-row evidence: what each model answered for each row, and how each grader scored it.

The evaluation itself is a Job (method "eval"): it is claimed, heartbeats, cancels and resumes like any job,
and its summary (aggregates, comparisons, forgetting) is the job's result.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import NEVER_REUSE_IDS, Base


class EvaluationRow(Base):
    __tablename__ = "evaluation_rows"
    __table_args__ = (
        Index("ix_evaluation_rows_job_set_index", "job_id", "set", "row_index"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    # "task" (the dataset evaluated) or "general" (the set that measures forgetting)
    set: Mapped[str] = mapped_column(String(16))
    row_index: Mapped[int]
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reference: Mapped[str] = mapped_column(Text, default="")
    # {model key: {"text", "new_tokens", "scores": {grader: value}, "nll", "tokens"}}
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON)
