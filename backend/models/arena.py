"""The blind arena: two anonymous models answer one prompt; the user votes; the votes rank the models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import NEVER_REUSE_IDS, Base, utcnow


class ArenaBattle(Base):
    __tablename__ = "arena_battles"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    # shown as A and B; the generation request answered them in this order
    model_a_id: Mapped[int] = mapped_column(ForeignKey("base_models.id"))
    model_b_id: Mapped[int] = mapped_column(ForeignKey("base_models.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("inference_requests.id"))
    # a, b, tie or both_bad; null until the user votes
    vote: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    voted_at: Mapped[datetime | None]
