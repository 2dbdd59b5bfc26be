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
    "classifier": "classifier_model_id",
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
    classifier_model_id: int | None = Field(
        None, ge=1, description="For kind=classifier: a registered sequence classifier (or reward model)."
    )
    label: str | None = Field(
        None,
        max_length=200,
        description="For kind=classifier: the label whose probability counts (a name from the model's "
        "id2label); may be left out when the model has one label.",
    )
    judge_model_id: int | None = Field(
        None, ge=1, description="For kind=judge: a registered language model (base or tuned) that grades."
    )
    rubric: str | None = Field(
        None,
        max_length=8000,
        description="For kind=judge: the prompt the judge reads, with {prompt}, {answer}, {reference}, {min} "
        "and {max} filled in; empty: the default rubric (worker/evaluation/judge.py).",
    )
    score_min: int = Field(1, ge=0, le=1000, description="For kind=judge: the lowest score the judge gives.")
    score_max: int = Field(10, ge=1, le=1000, description="For kind=judge: the highest score.")
    judge_max_new_tokens: int = Field(
        48, ge=1, le=1024, description="For kind=judge: the longest verdict, in tokens."
    )

    @model_validator(mode="before")
    @classmethod
    def _stored_before_model_graders(cls, data):
        """Evaluations stored before the classifier grader took a model and a label name carry its old
        defaults ("classifier_job_id": null, "label": 1): drop them so those jobs still read and resume."""
        if isinstance(data, dict) and data.get("kind") != "classifier":
            data = dict(data)
            if data.get("classifier_job_id", 0) is None:
                del data["classifier_job_id"]
            if isinstance(data.get("label"), int):
                del data["label"]
        return data

    @model_validator(mode="after")
    def _has_what_it_needs(self) -> GraderSpec:
        needed = _NEEDS.get(self.kind)
        if needed and getattr(self, needed) in (None, ""):
            raise ValueError(f"grader kind '{self.kind}' needs '{needed}'")
        if self.kind == "judge":
            if self.score_min >= self.score_max:
                raise ValueError("score_min must be below score_max")
            if self.rubric is not None and "{answer}" not in self.rubric:
                raise ValueError(
                    "a judge rubric must contain {answer}: the judge cannot grade what it never sees"
                )
        return self

    @property
    def label_name(self) -> str:
        """How the grader is named in results: rougeL, bleu, regex, …"""
        if self.kind == "rouge":
            return self.rouge_type
        if self.kind == "classifier":
            return f"classifier_m{self.classifier_model_id}" + (f"_{self.label}" if self.label else "")
        if self.kind == "judge":
            return f"judge_m{self.judge_model_id}"
        return self.kind


class GenerationSettings(BaseModel):
    """How answers are sampled. Greedy by default, so two runs of an evaluation give the same answers."""

    model_config = ConfigDict(extra="forbid")

    max_new_tokens: int = Field(128, ge=1, le=4096, description="Longest answer in tokens.")
    do_sample: bool = Field(False, description="Sample instead of greedy decoding.")
    temperature: float = Field(1.0, gt=0, le=5, description="Sampling temperature (with do_sample).")
    top_k: int = Field(50, ge=0, le=1000, description="Sample among the k likeliest tokens (0: all).")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass.")
    repetition_penalty: float = Field(1.0, ge=0.5, le=3, description="Above 1 discourages repeats.")
    seed: int = Field(
        0, ge=0, le=2**31 - 1, description="Seed of sampled answers: the same seed, the same answers."
    )


class EvaluationSpec(BaseModel):
    """What an evaluation job measures. Stored on the job; the worker runs exactly this."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["generation", "preference_accuracy"] = Field(
        "generation",
        description="generation: the models answer the rows and graders score the answers. "
        "preference_accuracy: the models are reward models, scored on preference rows by how often they "
        "rank the chosen reply above the rejected one.",
    )
    graders: list[GraderSpec] = Field(
        default_factory=lambda: [GraderSpec(kind="rouge", rouge_type="rougeL")],
        min_length=1,
        max_length=12,
        description="How answers are scored; the first is the headline figure (forgetting uses it).",
    )
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    max_rows: int = Field(200, ge=1, le=20_000, description="Rows taken from the dataset, in order.")
    perplexity: bool = Field(
        True, description="Also score each model's loss and perplexity on the references."
    )
    few_shot: list[int] = Field(
        default_factory=list,
        max_length=4,
        description="In-context baselines: the first model answering with k solved examples in the prompt "
        "(taken from `examples_version_id`), e.g. [0, 1, 3].",
    )
    forgetting_threshold: float = Field(
        0.05, ge=0, le=1, description="Flag a model whose headline score on the general set drops by more."
    )
    batch_size: int = Field(8, ge=1, le=256, description="Rows answered at once (prompts sorted by length).")
    chat_template: Literal["model", "chatml", "alpaca", "llama3", "gemma"] = Field(
        "model", description="How a conversation becomes text: the model's own template, or a named one."
    )
    system_prompt: str | None = Field(None, max_length=8000, description="Put before every conversation.")


class EvaluationCreate(BaseModel):
    """Evaluate 1..8 models on a dataset version; the first is the baseline the others are compared with."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    model_ids: list[int] = Field(
        ...,
        min_length=1,
        max_length=8,
        description="Registry ids; the first is the baseline (usually the base model), the rest are compared "
        "with it row by row.",
    )
    dataset_version_id: int = Field(
        ..., ge=1, description="The rows to answer, with their reference answers."
    )
    general_version_id: int | None = Field(
        None, ge=1, description="A general set answered before and after tuning, to measure forgetting."
    )
    examples_version_id: int | None = Field(
        None,
        ge=1,
        description="Solved rows for the in-context baselines (spec.few_shot), e.g. the train split.",
    )
    spec: EvaluationSpec = Field(default_factory=EvaluationSpec)

    @model_validator(mode="after")
    def _distinct(self) -> EvaluationCreate:
        if len(set(self.model_ids)) != len(self.model_ids):
            raise ValueError("model_ids: each model once")
        if any(k > 0 for k in self.spec.few_shot) and self.examples_version_id is None:
            raise ValueError("spec.few_shot above 0 needs 'examples_version_id' (the solved examples)")
        return self


class EvaluationRowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    set: str
    row_index: int
    messages: list[dict]
    reference: str
    outputs: dict


class EvaluationRowsPage(BaseModel):
    items: list[EvaluationRowRead]
    total: int
