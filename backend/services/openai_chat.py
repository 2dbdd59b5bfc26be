"""Chat completions for /v1: a request for the infer worker (kind `chat`), and its answer as OpenAI objects.

While it generates, the worker writes each choice's text so far into the request's `result` (`partial`:
true); a streamed answer is the differences between successive readings, sent as `chat.completion.chunk`s.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db import get_sessionmaker
from backend.models.inference import InferenceRequest, InferenceStatus
from backend.models.users import User
from backend.queue import RUN_INFERENCE_TASK, enqueue
from backend.schemas.openai import ChatCompletionCreate
from backend.services import openai_objects as objects
from backend.services import registry
from backend.services.errors import ServiceError

DEFAULT_MAX_TOKENS = 256
MAX_STOPS = 4
#: seconds between readings of a running request, and the longest an answer is waited for
POLL_SECONDS, WAIT_SECONDS = 0.05, 600.0


class InferenceFailed(ServiceError):
    status, code = 502, "inference_failed"


class InferenceTimeout(ServiceError):
    status, code = 504, "inference_timeout"


def _payload(session: Session, body: ChatCompletionCreate, user: User | None) -> dict:
    model = objects.resolve_model(session, body.model, user)
    stops = body.stop_list()
    if len(stops) > MAX_STOPS:
        raise objects.invalid(f"stop takes at most {MAX_STOPS} sequences, got {len(stops)}", "stop")
    temperature = 1.0 if body.temperature is None else body.temperature
    return {
        "model": body.model,
        "models": [
            {
                "id": model.id,
                "name": model.name,
                "path": model.path,
                "is_adapter": model.is_adapter,
                "base_path": registry.root_model(session, model).path,
            }
        ],
        "messages": [
            {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
            for m in body.messages
        ],
        "chat_template": "model",
        "max_new_tokens": body.max_completion_tokens or body.max_tokens or DEFAULT_MAX_TOKENS,
        "do_sample": temperature > 0,
        "temperature": temperature,
        "top_p": 1.0 if body.top_p is None else body.top_p,
        "seed": body.seed,
        "n": body.n,
        "stop": stops,
        "stream": body.stream,
    }


def submit(session: Session, settings: Settings, body: ChatCompletionCreate, user: User | None) -> int:
    """Check the request, store it for the infer worker, queue it; the request's id."""
    payload = _payload(session, body, user)
    request = InferenceRequest(kind="chat", payload=payload, created_by=user.id if user else None)
    session.add(request)
    session.flush()
    request.payload = {**payload, "request_id": request.id}  # the worker writes partial text to this row
    session.commit()
    enqueue(settings, RUN_INFERENCE_TASK, request_id=request.id)
    return request.id


async def submit_in_thread(settings: Settings, body: ChatCompletionCreate, user: User | None) -> int:
    """`submit` in a worker thread with its own short session (the route then streams for a long time)."""

    def run() -> int:
        with get_sessionmaker(settings.database_url)() as session:
            return submit(session, settings, body, user)

    return await asyncio.to_thread(run)


def _read(settings: Settings, request_id: int) -> tuple[InferenceStatus, dict | None, str | None]:
    with get_sessionmaker(settings.database_url)() as session:
        request = session.get(InferenceRequest, request_id)
        return request.status, request.result, request.error


async def readings(settings: Settings, request_id: int) -> AsyncIterator[tuple[InferenceStatus, dict | None]]:
    """The request's state every POLL_SECONDS until it is finished; raises when it failed or took too long."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        status, result, error = await asyncio.to_thread(_read, settings, request_id)
        if status == InferenceStatus.failed:
            raise InferenceFailed(f"the model could not answer: {error}")
        yield status, result
        if status == InferenceStatus.succeeded:
            return
        if time.monotonic() > deadline:
            raise InferenceTimeout(
                f"no answer within {WAIT_SECONDS:.0f} seconds; is an infer worker running?"
            )
        await asyncio.sleep(POLL_SECONDS)


def _usage(result: dict) -> dict:
    completion = sum(c["completion_tokens"] for c in result["choices"])
    return {
        "prompt_tokens": result["prompt_tokens"],
        "completion_tokens": completion,
        "total_tokens": result["prompt_tokens"] + completion,
    }


def completion(request_id: int, model: str, created: int, result: dict) -> dict:
    return {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": c["text"], "refusal": None},
                "finish_reason": c["finish_reason"],
                "logprobs": None,
            }
            for i, c in enumerate(result["choices"])
        ],
        "usage": _usage(result),
        "system_fingerprint": None,
    }


async def answer(settings: Settings, request_id: int, model: str) -> dict:
    created = int(time.time())
    result = None
    async for _, result in readings(settings, request_id):
        pass
    return completion(request_id, model, created, result)


def _sse(data: dict) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


async def stream(settings: Settings, request_id: int, model: str, n: int, include_usage: bool):
    """The answer as server-sent events: a role chunk per choice, content deltas as text arrives, a final
    chunk with each finish_reason, the usage when asked for, then `data: [DONE]`."""
    created = int(time.time())

    def chunk(choices: list[dict], usage: dict | None = None) -> str:
        body = {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": choices,
        }
        if include_usage:
            body["usage"] = usage
        return _sse(body)

    for i in range(n):
        yield chunk([{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
    sent = [""] * n
    try:
        async for status, result in readings(settings, request_id):
            for i, choice in enumerate((result or {}).get("choices") or []):
                text = choice.get("text") or ""
                if len(text) > len(sent[i]) and text.startswith(sent[i]):
                    delta, sent[i] = text[len(sent[i]) :], text
                    yield chunk([{"index": i, "delta": {"content": delta}, "finish_reason": None}])
            if status == InferenceStatus.succeeded:
                for i, choice in enumerate(result["choices"]):
                    yield chunk([{"index": i, "delta": {}, "finish_reason": choice["finish_reason"]}])
                if include_usage:
                    yield chunk([], _usage(result))
    except ServiceError as exc:
        yield _sse({"error": {"message": exc.message, "type": "api_error", "param": None, "code": exc.code}})
    yield "data: [DONE]\n\n"
