"""The LLM-judge grader: a studio model reads a rubric holding the question, the answer and the reference,
answers greedily, and the first score in the rubric's range found in its verdict becomes the row's score,
normalised to 0-1. A verdict without one is a missing score, kept with the judge's words as evidence.

    grader = judge_grader(spec, JudgeModel(path="/…/tiny-llama"), batch_size=8)
    scores, evidence = grader.score_explained(answers, references, questions=questions)

The default rubric (DEFAULT_RUBRIC) asks for overall quality from {min} to {max} on the first line as
"Score: N", followed by one sentence of reasons; a custom rubric may use the same placeholders and must
contain {answer}. Placeholders are replaced literally, so braces elsewhere (JSON, code) are left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from backend.schemas.evaluation import GraderSpec
from worker.evaluation.generation import GenerationParams, generate_answers
from worker.evaluation.graders import Grader
from worker.training.data import render
from worker.training.models import load_tokenizer

DEFAULT_RUBRIC = """You are a strict grader. Read the question, the reference answer (it may be empty) \
and the answer to grade. Rate the answer from {min} (wrong or useless) to {max} (correct, complete and clear).

Question:
{prompt}

Reference answer:
{reference}

Answer to grade:
{answer}

Reply with "Score: N" on the first line, where N is a whole number from {min} to {max}, then one sentence \
saying why."""

_NUMBER = r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w])"
#: a number right after a word announcing it: "Score: 7", "rating of 8", "**Grade** = 9"
_LABELLED = re.compile(rf"\b(?:score|rating|grade|verdict)\b[^\d\n+-]{{0,24}}({_NUMBER})", re.IGNORECASE)


@dataclass(frozen=True)
class JudgeModel:
    """Where the judge's weights are: a full model folder, or an adapter folder on `base_path`."""

    path: str
    base_path: str | None = None


def fill_rubric(rubric: str, *, prompt: str, answer: str, reference: str, low: int, high: int) -> str:
    values = {"{prompt}": prompt, "{answer}": answer, "{reference}": reference, "{min}": str(low)}
    values["{max}"] = str(high)
    # one pass, so an answer that itself contains "{reference}" is not filled in again
    return re.sub(r"\{(?:prompt|answer|reference|min|max)\}", lambda m: values[m.group(0)], rubric)


def parse_score(text: str, low: float, high: float) -> float | None:
    """The judge's score in [low, high] normalised to [0, 1], or None when the verdict holds none.

    Looked for in order: a labelled number ("Score: 7"), a fraction of the top of the scale ("7/10",
    "7 out of 10"), then the first number in range. The scale itself ("1-10", "1 to 10") is not a score.
    A labelled or fractional score outside the range counts as no score rather than a guess elsewhere.
    """
    top = re.escape(_plain(high))
    scale = rf"(?<![\w.]){re.escape(_plain(low))}\s*(?:-|–|to|and)\s*{top}(?![\w.])"
    cleaned = re.sub(scale, " ", text, flags=re.IGNORECASE)
    fraction = re.compile(rf"({_NUMBER})\s*(?:/|out\s+of)\s*{top}(?![\w.])", re.IGNORECASE)
    for pattern in (_LABELLED, fraction):
        found = pattern.search(cleaned)
        if found:
            return _normalise(float(found.group(1)), low, high)
    for found in re.finditer(_NUMBER, cleaned):
        value = _normalise(float(found.group(0)), low, high)
        if value is not None:
            return value
    return None


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _normalise(value: float, low: float, high: float) -> float | None:
    return (value - low) / (high - low) if low <= value <= high else None


def _load(judge: JudgeModel, device: str):
    model = AutoModelForCausalLM.from_pretrained(judge.base_path or judge.path, dtype=torch.float32)
    if judge.base_path:
        model = PeftModel.from_pretrained(model, judge.path).merge_and_unload()
    tokenizer = load_tokenizer(judge.base_path or judge.path)
    return model.to(device).eval(), tokenizer


def judge_grader(spec: GraderSpec, judge: JudgeModel, *, batch_size: int = 8, device: str = "cpu") -> Grader:
    """Grade with a studio model: greedy verdicts, batched and length-sorted like the answers themselves."""
    loaded: list = []  # the judge loads when first asked, after the graded models have answered
    rubric = spec.rubric or DEFAULT_RUBRIC
    params = GenerationParams(max_new_tokens=spec.judge_max_new_tokens)

    def explained(answers, refs, columns):
        if not loaded:
            loaded.extend(_load(judge, device))
        model, tokenizer = loaded
        template = "model" if tokenizer.chat_template else "chatml"
        questions = columns.get("questions") or [""] * len(answers)
        filled = [
            fill_rubric(rubric, prompt=q, answer=a, reference=r, low=spec.score_min, high=spec.score_max)
            for q, a, r in zip(questions, answers, refs, strict=True)
        ]
        chats = [[{"role": "user", "content": text}] for text in filled]
        prompts = [render(chat, tokenizer, template, add_generation_prompt=True) for chat in chats]
        verdicts = [
            v["text"] for v in generate_answers(model, tokenizer, prompts, params, batch_size=batch_size)
        ]
        scores = [parse_score(v, spec.score_min, spec.score_max) for v in verdicts]
        return scores, [
            {"judge_text": v, "parsed": s is not None} for v, s in zip(verdicts, scores, strict=True)
        ]

    return Grader(
        spec.label_name,
        lambda answers, refs, columns: explained(answers, refs, columns)[0],
        needs_reference="{reference}" in rubric and spec.rubric is not None,
        explained=explained,
    )
