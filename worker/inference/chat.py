"""Chat completions on the infer worker: n choices with stop sequences, real token counts, and the text so
far written to the request row while generating, so the API can stream it (backend/services/openai_chat.py).
"""

from __future__ import annotations

import time

import torch
from transformers.generation.streamers import BaseStreamer

from backend.config import Settings
from backend.db import session_scope
from backend.services import inference
from worker.inference.engine import GenerationEngine
from worker.training.data import render

#: seconds between writes of the partial text
PUBLISH_SECONDS = 0.1


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """`text` up to the first stop sequence (excluded), and whether one was found."""
    cuts = [text.find(s) for s in stops if s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


def visible(text: str, stops: list[str]) -> str:
    """What may be shown of unfinished text: cut at a stop sequence, without a tail that may be the start of
    one, or an incomplete character."""
    text, stopped = cut_at_stop(text, stops)
    if stopped:
        return text
    hold = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:size]):
                hold = max(hold, size)
                break
    text = text[: len(text) - hold]
    return text.rstrip("\ufffd")


class _Publisher:
    """Writes the choices' text so far to the request row, at most every PUBLISH_SECONDS."""

    def __init__(self, settings: Settings, request_id: int | None, n: int) -> None:
        self.settings, self.request_id = settings, request_id
        self.texts = [""] * n
        self.last = 0.0

    def update(self, index: int, text: str, *, force: bool = False) -> None:
        self.texts[index] = text
        now = time.monotonic()
        if self.request_id is None or (not force and now - self.last < PUBLISH_SECONDS):
            return
        self.last = now
        result = {"partial": True, "choices": [{"text": t, "finish_reason": None} for t in self.texts]}
        with session_scope(self.settings.database_url) as session:
            inference.publish_partial(session, self.request_id, result)


class _Streamer(BaseStreamer):
    """Receives tokens from `generate` as they are chosen and publishes the visible text."""

    def __init__(self, tokenizer, publisher: _Publisher, index: int, stops: list[str]) -> None:
        self.tokenizer, self.publisher, self.index, self.stops = tokenizer, publisher, index, stops
        self.ids: list[int] = []
        self.prompt_seen = False

    def put(self, value) -> None:
        if not self.prompt_seen:  # generate first hands over the prompt
            self.prompt_seen = True
            return
        self.ids.extend(int(t) for t in value.reshape(-1).tolist())
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        self.publisher.update(self.index, visible(text, self.stops))

    def end(self) -> None:
        pass


def _kwargs(params: dict, tokenizer) -> dict:
    kwargs = {
        "max_new_tokens": params["max_new_tokens"],
        "do_sample": params["do_sample"],
        "pad_token_id": tokenizer.pad_token_id
        if tokenizer.pad_token_id is not None
        else tokenizer.eos_token_id,
    }
    if params["do_sample"]:
        kwargs.update(temperature=params["temperature"], top_p=params["top_p"], top_k=0)
    if params.get("stop"):
        kwargs.update(stop_strings=params["stop"], tokenizer=tokenizer)
    return kwargs


@torch.inference_mode()
def complete(engine: GenerationEngine, payload: dict, settings: Settings) -> dict:
    """Answer a chat request (its model paths already local): each choice's text, finish reason and tokens."""
    stops = payload.get("stop") or []
    n = payload.get("n", 1)
    publisher = _Publisher(settings, payload.get("request_id") if payload.get("stream") else None, n)
    with engine.use(payload["models"][0]) as (net, tokenizer):
        prompt = render(
            payload["messages"], tokenizer, payload.get("chat_template", "model"), add_generation_prompt=True
        )
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(engine.device)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        eos = net.generation_config.eos_token_id or tokenizer.eos_token_id
        eos_ids = set(eos) if isinstance(eos, list) else {eos}
        choices = []
        for index in range(n):
            if payload.get("seed") is not None:
                torch.manual_seed(payload["seed"] + index)
            streamer = _Streamer(tokenizer, publisher, index, stops)
            output = net.generate(**inputs, **_kwargs(payload, tokenizer), streamer=streamer)
            new = output[0, prompt_tokens:].tolist()
            text, stopped = cut_at_stop(tokenizer.decode(new, skip_special_tokens=True), stops)
            ended = stopped or (bool(new) and new[-1] in eos_ids) or len(new) < payload["max_new_tokens"]
            choices.append(
                {"text": text, "finish_reason": "stop" if ended else "length", "completion_tokens": len(new)}
            )
            publisher.update(index, text, force=True)
    return {"prompt_tokens": prompt_tokens, "choices": choices}
