"""Labeling campaigns, the items a labeler is handed, labels, quality figures and exports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.models.ownership import Visibility
from backend.schemas.common import VISIBILITY_DOC, OwnedRead, ReadModel
from backend.schemas.inference import GenerationParams, Message
from backend.schemas.job_specs import JobSpec

Mode = Literal["pairwise", "rank", "thumbs", "rating"]
DEFAULT_FLAGS = ["fails the task", "harmful", "made-up facts"]


class CandidateGeneration(BaseModel):
    """Candidates written by models: each model answers each prompt `samples_per_model` times."""

    model_ids: list[int] = Field(..., min_length=1, max_length=8, description="Registry ids of the models.")
    samples_per_model: int = Field(1, ge=1, le=9, description="Answers per model and prompt (seeds differ).")
    params: GenerationParams = Field(default_factory=GenerationParams, description="Sampling settings.")
    chat_template: Literal["model", "chatml", "alpaca", "llama3", "gemma"] = "model"


class CampaignCreate(BaseModel):
    name: str = Field(..., min_length=1, max_length=200)
    guidelines: str = Field("", max_length=50_000, description="Markdown shown to labelers above each item.")
    mode: Mode = Field(
        "pairwise", description="pairwise (A/B, tie, both bad), rank (ties allowed), thumbs, rating 1-7"
    )
    version_id: int = Field(..., description="Dataset version the prompts come from.")
    max_items: int = Field(200, ge=1, le=5000, description="Prompts taken from the start of the version.")
    use_dataset_responses: bool = Field(
        True,
        description="Take the responses already in the rows as candidates (preference: chosen and rejected; "
        "chat and instruction: the reference answer).",
    )
    generate: CandidateGeneration | None = Field(None, description="Also generate candidates with models.")
    overlap: int = Field(1, ge=1, le=50, description="How many labelers must label each item.")
    agreement_threshold: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="Export below this raw pairwise agreement warns and asks to confirm.",
    )
    flags: list[str] = Field(default_factory=lambda: list(DEFAULT_FLAGS), max_length=20)
    labeler_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        default_factory=list,
        max_length=10_000,
        description="Who may label (labelers' user ids); empty = every labeler.",
    )
    claim_timeout_s: int = Field(
        1800, ge=5, le=7 * 24 * 3600, description="An unsubmitted claim is released after."
    )
    reward_job_id: int | None = Field(
        None,
        description="A succeeded reward-model job: its scores order the queue, smallest margin first.",
    )


class CampaignUpdate(BaseModel):
    """Change a campaign (its owner or an admin): share it or make it private; attach a reward model
    (scoring starts on the infer worker) or detach it (null). Fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    visibility: Visibility | None = Field(None, description=VISIBILITY_DOC)
    reward_job_id: int | None = Field(
        None,
        description="A succeeded reward-model job whose scores order the queue; null detaches the model.",
    )


class CampaignRead(OwnedRead):
    id: int
    name: str
    guidelines: str
    mode: str
    k: int
    overlap: int
    agreement_threshold: float | None
    flags: list[str]
    status: str
    source_version_id: int | None
    labeler_ids: list[int]
    claim_timeout_s: int
    created_at: datetime
    reward_job_id: int | None = None
    reward_scoring: dict[str, Any] | None = Field(
        None, description="Scoring with the attached reward model: status, scored and total candidates."
    )
    progress: dict[str, int] = Field(default_factory=dict)


class CandidateShown(BaseModel):
    """A candidate as a labeler sees it: its position and text, never the model that wrote it."""

    position: int
    text: str


class Assignment(BaseModel):
    assignment_id: int
    campaign_id: int
    item_id: int
    mode: str
    prompt: list[dict[str, Any]]
    candidates: list[CandidateShown]
    flags: list[str]
    draft: dict[str, Any] | None = None
    progress: dict[str, int] = Field(default_factory=dict)


class LabelSubmit(BaseModel):
    answer: dict[str, Any] = Field(
        ...,
        description='pairwise {"choice": "A"|"B"|"tie"|"both_bad"}; rank {"ranking": [[2], [1, 3]]}; '
        'thumbs {"thumbs": {"1": true, "2": false}}; rating {"ratings": {"1": 6, "2": 3}}; '
        'any mode {"choice": "both_bad"}. Positions are 1-based as shown.',
    )
    flags: dict[str, list[str]] = Field(default_factory=dict, description="Position -> flag names.")
    seconds: float | None = Field(None, ge=0, le=86_400, description="Time spent on the item.")


class DraftSave(BaseModel):
    answer: dict[str, Any] = Field(default_factory=dict)
    flags: dict[str, list[str]] = Field(default_factory=dict)
    seconds: float | None = Field(None, ge=0, le=86_400)


class AiLabelCreate(LabelSubmit):
    judge: str = Field(..., min_length=1, max_length=200, description="The model acting as judge.")
    shown_order: list[int] | None = Field(
        None, description="Candidate ids in the order the judge saw them (default: stored order)."
    )


class LabelRead(ReadModel):
    id: int
    item_id: int
    labeler_id: int | None
    kind: str
    judge: str | None
    answer: dict[str, Any]
    tiers: list[list[int]]
    flags: dict[str, list[str]]
    seconds: float | None
    draft: bool
    created_at: datetime


class ExportCreate(BaseModel):
    kind: Literal["pairs", "kto", "reward"] = Field(
        "pairs",
        description="pairs: preference rows (DPO/ORPO/reward); kto: unpaired thumbs rows; reward: preference "
        "rows split by item into train and validation versions (held-out labels for the reward model).",
    )
    name: str | None = Field(None, max_length=200, description="Dataset name. Default: campaign name + kind.")
    confirm: bool = Field(False, description="Export even when agreement is below the campaign's threshold.")
    include_ai: bool = Field(False, description="Count AI-judge labels in the majority.")
    validation_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="reward: share of items held out.")
    seed: int = 0

    @model_validator(mode="after")
    def _name(self) -> ExportCreate:
        if self.name is not None and not self.name.strip():
            raise ValueError("name: must not be blank")
        return self


class CampaignTrain(BaseModel):
    """One action from a campaign to a training job: export (the kind the method needs), then queue it."""

    base_model_id: int = Field(..., ge=1, description="Registry id of the model to train.")
    spec: JobSpec = Field(..., description="A reward, dpo, kto or orpo job spec.")
    export: ExportCreate = Field(
        default_factory=ExportCreate, description="Export options (kind is implied)."
    )
    name: str | None = Field(None, max_length=200, description="Job name.")

    @model_validator(mode="after")
    def _method(self) -> CampaignTrain:
        if self.spec.method not in TRAINABLE:
            raise ValueError(f"spec.method: campaigns train {', '.join(TRAINABLE)}, not '{self.spec.method}'")
        return self


#: method -> the export it trains on
TRAINABLE = {"reward": "reward", "dpo": "pairs", "orpo": "pairs", "kto": "kto"}


class CandidateCreate(BaseModel):
    text: str = Field(..., max_length=100_000)
    provenance: dict[str, Any] = Field(
        default_factory=lambda: {"source": "api"},
        description='Who wrote it, e.g. {"source": "arena", "model_id": 3}. Never shown to labelers.',
    )


class ItemCreate(BaseModel):
    """An item added by a script (or by the arena): a prompt and exactly K candidates."""

    prompt: list[Message] = Field(..., min_length=1, max_length=200)
    candidates: list[CandidateCreate] = Field(..., min_length=2, max_length=9)
    reference: str | None = Field(None, max_length=100_000)


class ArenaExportCreate(BaseModel):
    """Export the arena's decisive votes (a or b) as preference pairs; ties and both-bad give none."""

    name: str = Field("arena-pairs", min_length=1, max_length=200, description="Dataset name.")

    @model_validator(mode="after")
    def _name(self) -> ArenaExportCreate:
        if not self.name.strip():
            raise ValueError("name: must not be blank")
        return self
