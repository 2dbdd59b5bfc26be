"""Request bodies of the OpenAI-compatible /v1 routes (fine-tuning jobs, chat completions).

Fields OpenAI defines that Afina has no use for (metadata, integrations, user, logprobs...) are accepted and
ignored, so scripts written for OpenAI keep working; the ones Afina uses are checked as OpenAI checks them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Auto = Literal["auto"]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Hyperparameters(_Lenient):
    n_epochs: Annotated[int, Field(ge=1, le=50)] | Auto = "auto"
    batch_size: Annotated[int, Field(ge=1, le=256)] | Auto = "auto"
    learning_rate_multiplier: Annotated[float, Field(gt=0.0, le=100.0)] | Auto = "auto"


class DPOHyperparameters(Hyperparameters):
    beta: Annotated[float, Field(gt=0.0, le=10.0)] | Auto = "auto"


class SupervisedMethod(_Lenient):
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)


class DPOMethod(_Lenient):
    hyperparameters: DPOHyperparameters = Field(default_factory=DPOHyperparameters)


class Method(_Lenient):
    type: Literal["supervised", "dpo"] = Field(
        ..., description="supervised or dpo; Afina's other methods (KTO, GRPO, PPO...) are on /api/jobs."
    )
    supervised: SupervisedMethod | None = None
    dpo: DPOMethod | None = None


class FineTuningJobCreate(_Lenient):
    model: str = Field(..., min_length=1, max_length=300, description="A base model's name (GET /v1/models).")
    training_file: str = Field(..., min_length=1, max_length=100, description="A file id: file-<number>.")
    validation_file: str | None = Field(None, max_length=100)
    suffix: str | None = Field(None, min_length=1, max_length=64, description="Part of the tuned model's id.")
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    hyperparameters: Hyperparameters | None = None
    method: Method | None = None
    metadata: dict[str, Any] | None = None


class TextPart(_Lenient):
    type: Literal["text"]
    text: str = Field(..., max_length=100_000)


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant"]
    content: Annotated[str, Field(max_length=100_000)] | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatCompletionCreate(_Lenient):
    model: str = Field(..., min_length=1, max_length=300)
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=200)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(None, ge=1, le=4096)
    stop: (
        Annotated[str, Field(min_length=1, max_length=200)]
        | list[Annotated[str, Field(min_length=1, max_length=200)]]
        | None
    ) = Field(None, description="Up to 4 sequences where generation stops.")
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    n: int = Field(1, ge=1, le=8)
    stream: bool = False
    stream_options: StreamOptions | None = None

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class OpenAIErrorBody(BaseModel):
    message: str = Field(description="What went wrong and where (a refused file names its line and field).")
    type: str = Field(description="invalid_request_error, authentication_error, not_found_error, ...")
    param: str | None = Field(None, description="The parameter or field at fault.")
    code: str | None = Field(None, description="A stable code for programs.")


class OpenAIError(BaseModel):
    """Every refusal under /v1, in OpenAI's shape."""

    error: OpenAIErrorBody
