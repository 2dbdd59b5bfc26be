"""Per-method job specifications: the hyperparameters a user sends, validated once at the API.

A job spec is data, not settings: pydantic checks ranges here (with messages a user can act on), the spec is
stored as JSON on the job row, and the worker turns it into a training config. Every field is documented once
(`Field(description=...)`); the same text serves `/docs` and the UI's tooltips.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

ChatTemplateName = Literal["model", "chatml", "alpaca", "llama3", "gemma"]
#: the chat template field of every spec and request that renders rows: declared (and documented) once here
ChatTemplate = Annotated[
    ChatTemplateName,
    Field(
        description="How rows are rendered to text: the model's own chat template ('model'), ChatML, Alpaca, "
        "Llama-3 or Gemma.",
    ),
]
AdapterType = Literal["none", "lora", "dora", "qlora", "prompt_tuning"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AdapterSpec(_Spec):
    """Which weights train: all of them (`none`), a low-rank adapter, or a soft prompt."""

    type: AdapterType = Field(
        "lora",
        description="none = full fine-tuning; lora; dora (weight-decomposed LoRA); qlora (LoRA on a 4-bit "
        "NF4 base, CUDA only); prompt_tuning (trainable soft-prompt tokens, base frozen).",
    )
    r: int = Field(16, ge=1, le=1024, description="LoRA rank: size of the low-rank update. 8-32 is typical.")
    alpha: int | None = Field(
        None,
        ge=1,
        le=4096,
        description="LoRA scaling numerator; the update is scaled by alpha/r. Default 2 x r.",
    )
    dropout: float = Field(
        0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA input, against overfitting."
    )
    target_modules: list[str] | Literal["all-linear"] | None = Field(
        None,
        description="Module names that get adapters, e.g. ['q_proj','v_proj'], or 'all-linear'. "
        "Default: every attention projection the model has.",
    )
    use_rslora: bool = Field(False, description="rsLoRA: scale by alpha/sqrt(r), stabler at high rank.")
    num_virtual_tokens: int = Field(
        20, ge=1, le=512, description="Prompt tuning: how many trainable soft-prompt tokens are prepended."
    )
    prompt_tuning_init_text: str | None = Field(
        None,
        max_length=2000,
        description="Prompt tuning: initialise the soft prompt from this text's embeddings.",
    )
    double_quantization: bool = Field(True, description="QLoRA: quantize the quantization constants too.")

    @model_validator(mode="after")
    def _default_alpha(self) -> AdapterSpec:
        if self.alpha is None:
            self.alpha = 2 * self.r
        if isinstance(self.target_modules, list) and not self.target_modules:
            raise ValueError("target_modules must name at least one module, or be omitted for the default")
        return self


class TrainingSpec(_Spec):
    """Optimisation settings shared by every method."""

    learning_rate: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="Peak learning rate. Default depends on method and adapter "
        "(full fine-tuning ~1e-5, LoRA ~2e-4, prompt tuning ~3e-2).",
    )
    num_epochs: float = Field(
        1.0, gt=0.0, le=100.0, description="Passes over the training data (1-3 is typical)."
    )
    max_steps: int | None = Field(
        None, ge=1, le=10_000_000, description="Stop after this many optimizer steps; overrides num_epochs."
    )
    batch_size: int | Literal["auto"] = Field(
        4, description="Examples per device step, or 'auto' to pick the largest that fits in memory."
    )
    gradient_accumulation_steps: int = Field(
        1,
        ge=1,
        le=1024,
        description="Steps whose gradients are summed "
        "before one optimizer step; effective batch = batch_size x this.",
    )
    max_length: int = Field(
        1024, ge=16, le=131072, description="Tokens per example; longer rows are truncated."
    )
    packing: bool = Field(
        False,
        description="Padding-free packing: concatenate examples so no compute is spent "
        "on padding tokens (attention stays within each example).",
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass: less memory, about 30% slower."
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto",
        description="auto = bf16 mixed precision where the device has native bf16 (GPUs since Ampere, "
        "CPUs with AVX512-BF16 or AMX), fp16 with loss scaling on older GPUs, fp32 otherwise; the job's "
        "events say which and why. fp16 needs a GPU.",
    )
    warmup_ratio: float = Field(
        0.03, ge=0.0, le=0.5, description="Share of steps spent ramping the LR up from 0."
    )
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        "cosine", description="How the learning rate decays after warmup."
    )
    weight_decay: float = Field(0.0, ge=0.0, le=1.0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, gt=0.0, le=1000.0, description="Gradient clipping threshold.")
    seed: int = Field(42, ge=0, le=2**31 - 1, description="Seed for data order, dropout and initialisation.")
    validation_split: float = Field(
        0.0,
        ge=0.0,
        le=0.5,
        description="Share of training rows held out for validation when no validation dataset is given.",
    )
    eval_steps: int | None = Field(
        None,
        ge=1,
        description="Evaluate on the validation set every N steps "
        "(default: once per epoch when a validation set exists).",
    )
    early_stopping_patience: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="Stop when validation loss has not improved for this many evaluations.",
    )
    save_steps: int = Field(50, ge=1, description="Write a resumable checkpoint every N optimizer steps.")
    save_total_limit: int = Field(
        3, ge=1, le=100, description="Checkpoints kept on disk (oldest deleted first)."
    )
    logging_steps: int = Field(1, ge=1, description="Record metrics every N optimizer steps.")


class MethodSpec(_Spec):
    """What every method spec has: the adapter, the optimisation settings and the merge option."""

    adapter: AdapterSpec = Field(default_factory=AdapterSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    merge_adapter: bool = Field(
        False,
        description="Also save the trained LoRA/DoRA adapter merged into its "
        "base, as a full model registered beside the adapter (for serving without PEFT).",
    )

    #: learning rate used when the user gives none, by adapter type
    _default_lr: dict[str, float] = {
        "none": 1e-5,
        "lora": 2e-4,
        "dora": 2e-4,
        "qlora": 2e-4,
        "prompt_tuning": 3e-2,
    }

    @model_validator(mode="after")
    def _fill_learning_rate(self):
        if self.training.learning_rate is None:
            self.training.learning_rate = self._default_lr[self.adapter.type]
        return self


class TemplatedSpec(MethodSpec):
    """A method whose rows are conversations rendered to text through a chat template."""

    chat_template: ChatTemplate = "model"


class SFTSpec(TemplatedSpec):
    """Supervised fine-tuning on chat, instruction or prompt/completion rows."""

    method: Literal["sft"] = "sft"
    loss_on: Literal["assistant", "all"] = Field(
        "assistant",
        description="Which tokens carry the loss: only assistant replies (default) or every token.",
    )
    system_prompt: str | None = Field(
        None, max_length=20000, description="System prompt added to rows that have none."
    )


class PretrainSpec(MethodSpec):
    """Continued pre-training on raw text, for domain adaptation."""

    method: Literal["pretrain"] = "pretrain"

    @model_validator(mode="before")
    @classmethod
    def _pack_by_default(cls, data):
        # A training section of the wrong type is left for field validation to refuse with a 422.
        if isinstance(data, dict) and isinstance(data.get("training") or {}, dict):
            training = dict(data.get("training") or {})
            training.setdefault("packing", True)
            data = {**data, "training": training}
        return data


class RewardSpec(TemplatedSpec):
    """A reward model trained on preference pairs with the pairwise loss -log sigma(r_chosen - r_rejected)."""

    method: Literal["reward"] = "reward"
    _default_lr = {"none": 1e-5, "lora": 1e-4, "dora": 1e-4, "qlora": 1e-4, "prompt_tuning": 1e-2}
    center_rewards_coefficient: float | None = Field(
        None, ge=0.0, le=1.0, description="Pull mean rewards toward 0 (keeps reward scale stable for RL)."
    )


class DPOSpec(TemplatedSpec):
    """Direct preference optimisation against a frozen reference (the base, or the adapter switched off)."""

    method: Literal["dpo"] = "dpo"
    _default_lr = {"none": 5e-7, "lora": 5e-5, "dora": 5e-5, "qlora": 5e-5, "prompt_tuning": 1e-3}
    beta: float = Field(0.1, gt=0.0, le=10.0, description="Strength of the pull toward the reference model.")
    loss_type: Literal["sigmoid", "ipo", "hinge"] = Field(
        "sigmoid", description="sigmoid = DPO; ipo = identity preference optimisation; hinge = SLiC."
    )
    max_prompt_length: int | None = Field(
        None,
        ge=8,
        le=131072,
        description="Truncate prompts to this many tokens (default: half of max_length).",
    )


class KTOSpec(TemplatedSpec):
    """Kahneman-Tversky optimisation from unpaired thumbs-up / thumbs-down labels."""

    method: Literal["kto"] = "kto"
    _default_lr = {"none": 5e-7, "lora": 5e-5, "dora": 5e-5, "qlora": 5e-5, "prompt_tuning": 1e-3}
    beta: float = Field(0.1, gt=0.0, le=10.0, description="Strength of the pull toward the reference model.")
    desirable_weight: float = Field(1.0, gt=0.0, le=100.0, description="Loss weight of thumbs-up rows.")
    undesirable_weight: float = Field(1.0, gt=0.0, le=100.0, description="Loss weight of thumbs-down rows.")


class ORPOSpec(TemplatedSpec):
    """Odds-ratio preference optimisation: SFT and preference in one loss, no reference model."""

    method: Literal["orpo"] = "orpo"
    _default_lr = {"none": 8e-6, "lora": 1e-4, "dora": 1e-4, "qlora": 1e-4, "prompt_tuning": 1e-3}
    beta: float = Field(
        0.1, gt=0.0, le=10.0, description="Weight of the odds-ratio term (lambda in the paper)."
    )


class RewardFunctionSpec(_Spec):
    """One rule-based or model reward; an online RL job sums them with their weights."""

    kind: Literal["format", "length", "exact_match", "regex", "model", "classifier"] = Field(
        ...,
        description="format: reply matches a required pattern (e.g. <answer>...</answer>); length: closeness "
        "to target_length; exact_match: reply equals the row's reference answer; regex: pattern found; "
        "model: score from a trained reward model job; classifier: a registered classifier's probability "
        "of `label` (the evaluation grader of the same kind).",
    )
    weight: float = Field(1.0, ge=-100.0, le=100.0, description="Multiplier of this reward in the sum.")
    pattern: str | None = Field(None, max_length=2000, description="Regular expression for format and regex.")
    target_length: int | None = Field(None, ge=1, le=100000, description="Target reply length in characters.")
    reward_model_job_id: int | None = Field(None, ge=1, description="For kind=model: a succeeded reward job.")
    classifier_model_id: int | None = Field(
        None, ge=1, description="For kind=classifier: a registered sequence classifier (or reward model)."
    )
    label: str | None = Field(
        None, max_length=200, description="For kind=classifier: the label whose probability is the reward."
    )

    @model_validator(mode="after")
    def _check_params(self) -> RewardFunctionSpec:
        if self.kind in ("format", "regex") and not self.pattern:
            raise ValueError(f"reward kind '{self.kind}' needs a 'pattern'")
        if self.kind == "length" and not self.target_length:
            raise ValueError("reward kind 'length' needs a 'target_length'")
        if self.kind == "model" and not self.reward_model_job_id:
            raise ValueError("reward kind 'model' needs a 'reward_model_job_id'")
        if self.kind == "classifier" and not self.classifier_model_id:
            raise ValueError("reward kind 'classifier' needs a 'classifier_model_id'")
        return self


class OnlineRLSpec(TemplatedSpec):
    """What GRPO, RLOO and PPO share: rewards, the KL leash and how completions are sampled."""

    _default_lr = {"none": 1e-6, "lora": 1e-5, "dora": 1e-5, "qlora": 1e-5, "prompt_tuning": 1e-3}
    rewards: list[RewardFunctionSpec] = Field(..., min_length=1, description="Reward functions, summed.")
    kl_coef: float = Field(
        0.04,
        ge=0.0,
        le=10.0,
        description="Weight of the KL penalty to the frozen "
        "reference model (the leash that keeps the policy fluent).",
    )
    num_generations: int = Field(4, ge=2, le=64, description="Completions sampled per prompt.")
    max_completion_length: int = Field(64, ge=1, le=32768, description="Tokens generated per completion.")
    temperature: float = Field(1.0, gt=0.0, le=2.0, description="Sampling temperature of rollouts.")


class GRPOSpec(OnlineRLSpec):
    """Group relative policy optimisation: advantages relative to other samples of the same prompt."""

    method: Literal["grpo"] = "grpo"


class RLOOSpec(OnlineRLSpec):
    """REINFORCE leave-one-out: each sample's baseline is the mean reward of the others."""

    method: Literal["rloo"] = "rloo"


class PPOSpec(OnlineRLSpec):
    """Classic RLHF: PPO with a value head, clipped objective and a per-token KL penalty to the reference."""

    method: Literal["ppo"] = "ppo"
    kl_coef: float = Field(0.05, ge=0.0, le=10.0, description="Per-token KL penalty to the frozen reference.")
    num_generations: int = Field(2, ge=1, le=64, description="Completions sampled per prompt.")
    ppo_epochs: int = Field(2, ge=1, le=16, description="Optimisation passes over each batch of rollouts.")
    cliprange: float = Field(0.2, gt=0.0, le=1.0, description="PPO ratio clip.")
    cliprange_value: float = Field(0.2, gt=0.0, le=10.0, description="Value-function clip.")
    vf_coef: float = Field(0.1, gt=0.0, le=10.0, description="Weight of the value loss.")
    gamma: float = Field(1.0, gt=0.0, le=1.0, description="Discount factor.")
    lam: float = Field(0.95, gt=0.0, le=1.0, description="GAE lambda.")


JobSpec = Annotated[
    SFTSpec | PretrainSpec | RewardSpec | DPOSpec | KTOSpec | ORPOSpec | GRPOSpec | RLOOSpec | PPOSpec,
    Field(discriminator="method"),
]

_JOB_SPEC: TypeAdapter[MethodSpec] = TypeAdapter(JobSpec)


def parse_job_spec(method: str, spec: MethodSpec | Mapping[str, Any]) -> MethodSpec:
    """The typed spec of `method`: a stored (JSON) dict is validated; a spec object passes through."""
    if isinstance(spec, MethodSpec):
        if spec.method != method:
            raise ValueError(f"a {spec.method} spec was given for a {method} job")
        return spec
    return _JOB_SPEC.validate_python({**spec, "method": method})


#: dataset format(s) each method trains on
METHOD_FORMATS: dict[str, tuple[str, ...]] = {
    "sft": ("chat", "instruction"),
    "pretrain": ("text",),
    "reward": ("preference",),
    "dpo": ("preference",),
    "kto": ("unpaired_preference",),
    "orpo": ("preference",),
    "grpo": ("prompt_only", "chat", "instruction"),
    "rloo": ("prompt_only", "chat", "instruction"),
    "ppo": ("prompt_only", "chat", "instruction"),
}
