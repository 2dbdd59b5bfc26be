"""Data generation requests as data: Self-Instruct and Constitutional AI runs, validated once at the API and
stored on the job the worker runs (a Job of method "datagen")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.schemas.evaluation import GenerationSettings

#: the constitution used when a run names none: short, general principles a critique can be asked about
DEFAULT_CONSTITUTION = [
    "The response should be helpful: it answers the question that was asked, directly and completely.",
    "The response should be honest: it states nothing false and does not make up facts or sources.",
    "The response should be harmless: it contains nothing hurtful, demeaning, dangerous or hateful.",
    "The response should not help with anything illegal, such as theft, violence, fraud or hacking.",
    "The response should admit uncertainty: where it does not know, it says so instead of guessing.",
]


class StudioGenerator(BaseModel):
    """A model of this studio (base or tuned) loaded on a worker. Other kinds (an external endpoint) plug in
    beside it as further members of `Generator`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["studio"] = "studio"
    model_id: int = Field(..., ge=1, description="Registry id of a causal language model or adapter.")


Generator = StudioGenerator


class SelfInstructParams(BaseModel):
    """Self-Instruct: the generator sees k sampled seed tasks and writes new ones; filters keep the novel."""

    model_config = ConfigDict(extra="forbid")

    num_tasks: int = Field(50, ge=1, le=20_000, description="Stop once this many tasks passed the filters.")
    max_requests: int = Field(200, ge=1, le=100_000, description="Most prompts sent to the generator.")
    seeds_per_prompt: int = Field(3, ge=1, le=16, description="Seed tasks shown in each prompt (k).")
    rouge_threshold: float = Field(
        0.7, gt=0, le=1, description="A task whose ROUGE-L F with a seed or a kept task is above is dropped."
    )
    min_instruction_words: int = Field(3, ge=1, le=1000)
    max_instruction_words: int = Field(150, ge=1, le=10_000)
    max_output_chars: int = Field(4000, ge=1, le=100_000)
    near_duplicate_threshold: float = Field(
        0.9, gt=0, le=1, description="Word-shingle Jaccard at which the dataset's near-dedup drops a row."
    )

    @model_validator(mode="after")
    def _bounds(self) -> SelfInstructParams:
        if self.min_instruction_words > self.max_instruction_words:
            raise ValueError("min_instruction_words is above max_instruction_words")
        return self


class ConstitutionalParams(BaseModel):
    """Constitutional AI: answer, critique against a sampled principle, revise; N rounds per prompt."""

    model_config = ConfigDict(extra="forbid")

    constitution: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CONSTITUTION),
        min_length=1,
        max_length=64,
        description="Principles; each round samples one. Defaults to helpful, honest, harmless, legal and "
        "admitting uncertainty.",
    )
    rounds: int = Field(1, ge=1, le=8, description="Critique-and-revise rounds per response.")
    max_prompts: int = Field(200, ge=1, le=20_000, description="Prompts taken from the version, in order.")

    @model_validator(mode="after")
    def _principles(self) -> ConstitutionalParams:
        if any(not p.strip() or len(p) > 2000 for p in self.constitution):
            raise ValueError("every principle is non-empty text of at most 2000 characters")
        return self


class DatagenCreate(BaseModel):
    """Generate a dataset with a model. Self-Instruct reads seed tasks (an instruction version);
    Constitutional AI reads prompts (a chat, preference, prompt-only or instruction version)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["self_instruct", "constitutional"]
    name: str | None = Field(
        None, min_length=1, max_length=180, description="Name of the new dataset(s); from the job if unset."
    )
    generator: Generator
    source_version_id: int = Field(..., ge=1, description="The seed tasks or the prompts.")
    self_instruct: SelfInstructParams = Field(default_factory=SelfInstructParams)
    constitutional: ConstitutionalParams = Field(default_factory=ConstitutionalParams)
    generation: GenerationSettings = Field(
        default_factory=lambda: GenerationSettings(do_sample=True, temperature=0.9, top_p=0.95),
        description="How the generator samples (sampling by default: generated data needs variety).",
    )
    batch_size: int = Field(8, ge=1, le=256, description="Prompts generated at once.")
    chat_template: Literal["model", "chatml", "alpaca", "llama3", "gemma"] = "model"
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the sampled seeds, principles and text.")
    preview: bool = Field(
        False, description="A dry run: generate a few rows into the job result and store no dataset."
    )
    preview_rows: int = Field(5, ge=1, le=50, description="Rows a preview generates.")
