"""Human preference labeling: campaigns of items (a prompt and K candidate answers), assignments, labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import NEVER_REUSE_IDS, Base, utcnow
from backend.models.ownership import Visibility, visibility_column


class LabelingCampaign(Base):
    __tablename__ = "labeling_campaigns"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # shared: every engineer may read it; labelers see it by its labeler list, whatever its visibility.
    visibility: Mapped[Visibility] = visibility_column()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    guidelines: Mapped[str] = mapped_column(Text, default="")
    # pairwise | rank | thumbs | rating (backend.schemas.labeling.Mode)
    mode: Mapped[str] = mapped_column(String(16))
    k: Mapped[int]
    overlap: Mapped[int]
    agreement_threshold: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # generating (candidates still being written by the infer worker) | open | closed
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    source_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="SET NULL")
    )
    # Labeler user ids allowed to label; empty = every labeler.
    labeler_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    claim_timeout_s: Mapped[int] = mapped_column(default=1800)
    # How candidates were made: {"dataset": bool, "models": [...], "params": {...}, "samples_per_model": n}.
    generation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A succeeded reward-model job whose scores order the queue (smallest margin first), and the infer-worker
    # request scoring the candidates with it (its status is the scoring status).
    reward_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    reward_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("inference_requests.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[LabelingItem]] = relationship(
        back_populates="campaign", order_by="LabelingItem.id", cascade="all, delete-orphan"
    )


class LabelingItem(Base):
    __tablename__ = "labeling_items"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("labeling_campaigns.id", ondelete="CASCADE"), index=True
    )
    prompt: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # A reference answer from the source dataset (prompt_only `answer`), shown to nobody, kept for export.
    reference: Mapped[str | None] = mapped_column(Text)
    # Gold answer: tiers of candidate ids, best first (known to be right; labelers are scored on it).
    gold: Mapped[list[list[int]] | None] = mapped_column(JSON)
    # Live (claimed or submitted, not skipped) assignments: the counter the conditional UPDATE guards.
    assigned_count: Mapped[int] = mapped_column(default=0)
    # Best minus second-best reward score of its candidates under the campaign's reward model (None: none).
    reward_margin: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    campaign: Mapped[LabelingCampaign] = relationship(back_populates="items")
    candidates: Mapped[list[LabelingCandidate]] = relationship(
        back_populates="item", order_by="LabelingCandidate.id", cascade="all, delete-orphan"
    )


class LabelingCandidate(Base):
    __tablename__ = "labeling_candidates"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("labeling_items.id", ondelete="CASCADE"), index=True)
    # None while its generation request is queued or running.
    text: Mapped[str | None] = mapped_column(Text)
    # {"source": "dataset", "field": "chosen"} or {"source": "model", "model_id", "model_name", "params"}
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON)
    inference_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("inference_requests.id", ondelete="SET NULL")
    )
    error: Mapped[str | None] = mapped_column(Text)
    # The campaign's reward model's score for this candidate (None: not scored, or the model changed).
    reward_score: Mapped[float | None] = mapped_column(Float)

    item: Mapped[LabelingItem] = relationship(back_populates="candidates")


class LabelingAssignment(Base):
    __tablename__ = "labeling_assignments"
    # One labeler never gets one item twice; the database refuses a second row, even under concurrency.
    __table_args__ = (UniqueConstraint("item_id", "labeler_id"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("labeling_items.id", ondelete="CASCADE"), index=True)
    labeler_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Candidate ids in the order this labeler sees them (randomised per assignment).
    shown_order: Mapped[list[int]] = mapped_column(JSON)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    skipped: Mapped[bool] = mapped_column(default=False)


class LabelingLabel(Base):
    __tablename__ = "labeling_labels"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("labeling_items.id", ondelete="CASCADE"), index=True)
    # Human labels belong to an assignment; AI labels (a model acting as judge) have none.
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("labeling_assignments.id", ondelete="CASCADE"), unique=True
    )
    labeler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(8), default="human")  # human | ai
    judge: Mapped[str | None] = mapped_column(String(200))  # the model that judged, for kind "ai"
    # The answer as given (positions as shown), and the same answer as tiers of candidate ids, best first.
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    tiers: Mapped[list[list[int]]] = mapped_column(JSON, default=list)
    # Candidate id -> True (good) / False (bad): thumbs, or ratings / both-bad folded to good and bad.
    verdicts: Mapped[dict[str, bool]] = mapped_column(JSON, default=dict)
    # Candidate id -> flag names (fails the task, harmful, made-up facts, ...).
    flags: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    seconds: Mapped[float | None] = mapped_column(Float)
    draft: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LabelingExport(Base):
    """Lineage: which dataset version a campaign was exported to, and how."""

    __tablename__ = "labeling_exports"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("labeling_campaigns.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # pairs | kto | reward
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
