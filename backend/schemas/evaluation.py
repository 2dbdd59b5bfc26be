"""Graders and evaluations as data: what the API validates, the database stores and the worker runs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

GraderKind = Literal[
    "rouge",
    "bleu",
    "chrf",
    "exact_match",
    "normalized_exact_match",
    "regex",
    "format",
    "length",
    "json_valid",
    "model",
    "classifier",
    "judge",
]
#: what each kind needs besides the answer
_NEEDS = {
    "format": "pattern",
    "regex": "pattern",
    "model": "reward_model_job_id",
    "classifier": "classifier_job_id",
    "judge": "judge_model_id",
}


class GraderSpec(BaseModel):
    """One way to score an answer. The same object is an evaluation metric and, in GRPO/RLOO/PPO, a reward."""

    model_config = ConfigDict(extra="forbid")

    kind: GraderKind = Field(
        description="rouge, bleu and chrf compare with the reference; exact_match ignores case and spacing; "
        "normalized_exact_match also punctuation and articles; regex: the pattern occurs; format: the whole "
        "answer matches; length: closeness to target_length (or the length itself without one); json_valid; "
        "model: a trained reward model's score; classifier: a trained classifier's probability of `label`; "
        "judge: a studio model grades with a rubric."
    )
    weight: float = Field(1.0, ge=-100, le=100, description="Weight when used as one of several rewards.")
    rouge_type: Literal["rouge1", "rouge2", "rougeL", "rougeLsum"] = Field(
        "rougeL", description="For kind=rouge: which ROUGE (F-measure, Porter stemming)."
    )
    pattern: str | None = Field(None, max_length=2000, description="For regex and format: a Python regex.")
    target_length: int | None = Field(None, ge=1, le=100_000, description="For length: characters.")
    reward_model_job_id: int | None = Field(None, ge=1, description="For kind=model: a succeeded reward job.")
    classifier_job_id: int | None = Field(None, ge=1, description="For kind=classifier: a classifier job.")
    label: int = Field(
        1, ge=0, le=1000, description="For kind=classifier: the class whose probability counts."
    )
    judge_model_id: int | None = Field(None, ge=1, description="For kind=judge: the model that grades.")
    rubric: str | None = Field(
        None,
        max_length=8000,
        description="For kind=judge: how to grade; the judge answers with a score from 1 to 10.",
    )

    @model_validator(mode="after")
    def _has_what_it_needs(self) -> GraderSpec:
        needed = _NEEDS.get(self.kind)
        if needed and getattr(self, needed) in (None, ""):
            raise ValueError(f"grader kind '{self.kind}' needs '{needed}'")
        return self

    @property
    def label_name(self) -> str:
        """How the grader is named in results: rougeL, bleu, regex, …"""
        return self.rouge_type if self.kind == "rouge" else self.kind
