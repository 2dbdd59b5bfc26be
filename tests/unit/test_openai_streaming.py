"""Token streaming for /v1 chat completions (the worker writes the text so far while it generates; the API
turns successive readings into chunks, finish reasons, usage and [DONE]), and OpenAI DPO files read line by
line."""

from __future__ import annotations

import asyncio
import itertools
import json

from sqlalchemy import select

from backend.db import session_scope
from backend.models.inference import InferenceRequest, InferenceStatus
from backend.services import openai_chat, openai_dpo_files
from worker.inference import chat
from worker.inference.engine import GenerationEngine


def test_visible_text_holds_back_what_may_become_a_stop_sequence():
    assert chat.visible("The secret wo", ["word"]) == "The secret "
    assert chat.visible("The secret word is", ["word"]) == "The secret "
    assert chat.visible("The secret w", ["xyz", "wor"]) == "The secret "
    assert chat.visible("plain", []) == "plain"
    assert chat.visible("caf\ufffd", []) == "caf"  # half a character is not shown yet
    assert chat.cut_at_stop("a.b.c", [".", "b"]) == ("a", True)


def test_the_worker_writes_growing_partial_text_while_generating(settings, tiny_model_dir, monkeypatch):
    monkeypatch.setattr(chat, "PUBLISH_SECONDS", 0.0)  # write at every token
    with session_scope(settings.database_url) as session:
        request = InferenceRequest(kind="chat", payload={}, status=InferenceStatus.running)
        session.add(request)
        session.commit()
        request_id = request.id
    seen: list[str] = []
    write = chat._Publisher.update

    def recording(self, index, text, *, force=False):
        write(self, index, text, force=force)
        with session_scope(settings.database_url) as session:
            result = session.scalar(select(InferenceRequest.result).where(InferenceRequest.id == request_id))
        if result and (not seen or result["choices"][0]["text"] != seen[-1]):
            seen.append(result["choices"][0]["text"])

    monkeypatch.setattr(chat._Publisher, "update", recording)
    folder = str(tiny_model_dir)  # paths already local, as the worker hands them over
    payload = {
        "request_id": request_id,
        "stream": True,
        "models": [{"id": 1, "name": "tiny", "path": folder, "is_adapter": False, "base_path": folder}],
        "messages": [{"role": "user", "content": "hello"}],
        "max_new_tokens": 24,
        "do_sample": False,
        "n": 1,
        "stop": [],
    }
    result = chat.complete(GenerationEngine("cpu"), payload, settings)
    final = result["choices"][0]["text"]
    assert len(seen) > 3, seen  # many readings, not one at the end
    assert all(b.startswith(a) for a, b in itertools.pairwise(seen)), seen
    assert seen[-1] == final and result["choices"][0]["completion_tokens"] <= 24
    assert result["prompt_tokens"] > 0


def test_the_api_streams_differences_between_readings(monkeypatch):
    readings = [
        (InferenceStatus.queued, None),
        (InferenceStatus.running, {"partial": True, "choices": [{"text": "Hel"}]}),
        (InferenceStatus.running, {"partial": True, "choices": [{"text": "Hel"}]}),
        (InferenceStatus.running, {"partial": True, "choices": [{"text": "Hello wo"}]}),
        (
            InferenceStatus.succeeded,
            {
                "prompt_tokens": 5,
                "choices": [{"text": "Hello world", "finish_reason": "stop", "completion_tokens": 3}],
            },
        ),
    ]

    async def fake(settings, request_id):
        for reading in readings:
            yield reading

    monkeypatch.setattr(openai_chat, "readings", fake)

    async def collect():
        return [event async for event in openai_chat.stream(None, 7, "m", 1, include_usage=True)]

    events = asyncio.run(collect())
    assert all(e.startswith("data: ") and e.endswith("\n\n") for e in events)
    assert events[-1] == "data: [DONE]\n\n"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert {c["id"] for c in chunks} == {"chatcmpl-7"} and {c["object"] for c in chunks} == {
        "chat.completion.chunk"
    }
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [c["choices"][0]["delta"].get("content") for c in chunks[1:] if c["choices"]]
    assert deltas == ["Hel", "lo wo", "rld", None]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
    }


def test_a_failed_request_ends_the_stream_with_an_error(monkeypatch):
    async def failing(settings, request_id):
        yield InferenceStatus.running, None
        raise openai_chat.InferenceFailed("the model could not answer: boom")

    monkeypatch.setattr(openai_chat, "readings", failing)

    async def collect():
        return [event async for event in openai_chat.stream(None, 1, "m", 1, include_usage=False)]

    events = asyncio.run(collect())
    assert (
        json.loads(events[-2][6:])["error"]["code"] == "inference_failed" and events[-1] == "data: [DONE]\n\n"
    )


def test_a_dpo_line_too_long_to_read_passes_through_untouched(tmp_path):
    row = {"input": {"messages": [{"role": "user", "content": "q"}]}, "preferred_output": []}
    good = json.dumps({**row, "non_preferred_output": []}).encode() + b"\n"
    long = b'{"input": "' + b"x" * 500 + b'"}\n'
    source, dest = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(good + long + good.rstrip(b"\n"))
    assert openai_dpo_files.is_openai_dpo(source, max_line=200)
    openai_dpo_files.convert(source, dest, max_line=200)
    lines = dest.read_bytes().splitlines(keepends=True)
    assert len(lines) == 3 and lines[1] == long  # kept for the validation to refuse by its own limit
    assert json.loads(lines[0]) == {
        "prompt": [{"role": "user", "content": "q"}],
        "chosen": [],
        "rejected": [],
    }
    assert json.loads(lines[2])["chosen"] == []
    assert openai_dpo_files.openai_field("rejected[0].content") == "non_preferred_output[0].content"
    plain = tmp_path / "chat.jsonl"
    plain.write_bytes(b'{"messages": []}\n')
    assert not openai_dpo_files.is_openai_dpo(plain, 200)
