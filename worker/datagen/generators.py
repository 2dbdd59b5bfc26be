"""Text generators for data generation: the interface every generator meets, and the studio's own models.

    generator = StudioModelGenerator("models/tiny", params=GenerationParams(do_sample=True), batch_size=8)
    texts = generator.generate([[{"role": "user", "content": "Write a task."}], ...], seed=3)

An external OpenAI-compatible endpoint is another class with the same `generate`; the pipelines only see
the interface, so they run the same whoever writes the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from worker.evaluation.generation import GenerationParams, generate_answers
from worker.training.data import render
from worker.training.models import load_tokenizer

Chat = list[dict]


class TextGenerator(Protocol):
    """Answers conversations. `seed` makes sampled answers repeatable: the same chats and seed, the same
    texts. Returns one text per chat, in order; `tokens` counts what was generated so far."""

    name: str
    tokens: int

    def generate(self, chats: Sequence[Chat], *, seed: int) -> list[str]: ...


class StudioModelGenerator:
    """A registry model (a full model, or an adapter on its base) loaded once on this worker; answers in
    length-sorted, left-padded batches (worker.evaluation.generation)."""

    def __init__(
        self,
        path: str,
        *,
        base_path: str | None = None,
        params: GenerationParams,
        batch_size: int = 8,
        chat_template: str = "model",
        device: str = "cpu",
        name: str = "",
    ) -> None:
        self.path, self.base_path, self.params = path, base_path, params
        self.batch_size, self.chat_template, self.device = batch_size, chat_template, device
        self.name = name or path
        self.tokens = 0
        self._model = self._tokenizer = None

    def _load(self):
        if self._model is None:
            weights = self.base_path or self.path
            model = AutoModelForCausalLM.from_pretrained(weights, dtype=torch.float32)
            if self.base_path:
                model = PeftModel.from_pretrained(model, self.path)
            self._model, self._tokenizer = model.to(self.device).eval(), load_tokenizer(weights)
        return self._model, self._tokenizer

    def generate(self, chats: Sequence[Chat], *, seed: int) -> list[str]:
        if not chats:
            return []
        model, tokenizer = self._load()
        prompts = [render(chat, tokenizer, self.chat_template, add_generation_prompt=True) for chat in chats]
        answers = generate_answers(
            model, tokenizer, prompts, replace(self.params, seed=seed), batch_size=self.batch_size
        )
        self.tokens += sum(a["new_tokens"] for a in answers)
        return [a["text"] for a in answers]
