"""Generation requests: one prompt answered by a base model and its tuned adapters, side by side."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from backend.models.inference import InferenceStatus
from backend.schemas.common import ReadModel
from backend.schemas.job_specs import ChatTemplate


class GenerationParams(BaseModel):
    max_new_tokens: int = Field(128, ge=1, le=4096, description="Tokens generated at most.")
    do_sample: bool = Field(
        False, description="false = greedy decoding; true = sampling with the settings below."
    )
    temperature: float = Field(0.7, gt=0.0, le=5.0, description="Sampling temperature (only when sampling).")
    top_k: int = Field(50, ge=0, le=1000, description="Sample among the k most likely tokens (0 = off).")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling: smallest set with this mass.")
    repetition_penalty: float = Field(1.0, ge=1.0, le=3.0, description="Penalise tokens already generated.")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="Makes sampling repeatable.")


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class GenerationCreate(GenerationParams):
    model_ids: list[int] = Field(
        ...,
        min_length=1,
        max_length=8,
        description="Registry ids to answer with: "
        "a base model and/or adapters trained on it, answered in this order.",
    )
    prompt: str | None = Field(None, max_length=100_000, description="A user message.")
    messages: list[Message] | None = Field(None, max_length=200, description="Or a whole conversation.")
    system_prompt: str | None = Field(None, max_length=20_000)
    chat_template: ChatTemplate = "model"

    @model_validator(mode="after")
    def _one_input(self) -> GenerationCreate:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' or 'messages'")
        return self


class InferenceRead(ReadModel):
    id: int
    kind: str
    status: InferenceStatus
    payload: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
