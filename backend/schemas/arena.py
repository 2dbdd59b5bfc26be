"""Arena battles, votes and the leaderboard."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.schemas.inference import GenerationParams

Vote = Literal["a", "b", "tie", "both_bad"]


class BattleCreate(GenerationParams):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(..., min_length=1, max_length=20_000, description="What both models answer.")
    model_ids: list[int] | None = Field(
        None,
        min_length=2,
        max_length=32,
        description="The pool two models are drawn from (default: every language model you can see).",
    )


class BattleRead(BaseModel):
    """A battle as its voter sees it: answers labelled A and B; the models' names only after the vote."""

    id: int
    prompt: str
    status: Literal["generating", "ready", "failed", "voted"]
    answer_a: str | None = None
    answer_b: str | None = None
    error: str | None = None
    vote: Vote | None = None
    model_a: str | None = None
    model_b: str | None = None
    created_at: datetime


class VoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vote: Vote = Field(
        ..., description="a or b: that answer is better; tie: equally good; both_bad: neither."
    )


class LeaderboardRow(BaseModel):
    model_id: int
    name: str
    score: float = Field(description="Bradley–Terry log-strength, centred on 0; higher is better.")
    low: float
    high: float
    battles: int
    wins: int


class Leaderboard(BaseModel):
    rows: list[LeaderboardRow]
    votes: int
    decisive_votes: int
