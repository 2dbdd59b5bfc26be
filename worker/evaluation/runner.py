"""An evaluation run, pure ML: the same rows answered by a baseline and the models compared with it, graded,
scored for perplexity, and summarised with intervals, paired tests and the forgetting figure.

    result = run_evaluation(EvalRequest(models=[base, tuned], spec=spec, items=task, general_items=general))

Models that share a base load it once: their adapters answer in one mixed batch. Nothing here knows the
database; the job wrapper (worker.jobs) gives the rows and stores what comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from backend import stats
from backend.schemas.evaluation import EvaluationSpec
from worker.evaluation.generation import BASE_ADAPTER, GenerationParams, generate_answers
from worker.evaluation.graders import Grader
from worker.evaluation.judge import JudgeModel
from worker.evaluation.model_graders import build_graders
from worker.evaluation.perplexity import answer_nll, perplexity
from worker.evaluation.reward_accuracy import HUMAN_AGREEMENT, reward_accuracy
from worker.evaluation.rows import EvalItem, with_examples
from worker.training.data import render
from worker.training.models import load_tokenizer


@dataclass(frozen=True)
class ModelRef:
    """A model to evaluate: `key` names it in results; adapters carry the folder of their base."""

    key: str
    name: str
    path: str
    base_path: str | None = None  # set for adapters

    @property
    def weights(self) -> str:
        return self.base_path or self.path


@dataclass
class EvalRequest:
    models: list[ModelRef]  # the first is the baseline every other model is compared with
    spec: EvaluationSpec
    items: list[EvalItem]
    general_items: list[EvalItem] = field(default_factory=list)  # the forgetting set
    examples: list[EvalItem] = field(default_factory=list)  # solved rows for the in-context baseline
    device: str = "cpu"
    reward_model_paths: dict[int, str] = field(default_factory=dict)  # reward job id -> model folder
    grader_models: dict[int, JudgeModel] = field(default_factory=dict)  # registry id -> classifier/judge
    preference_rows: list[dict] = field(default_factory=list)  # for kind preference_accuracy: the raw rows
    progress: Callable[[int, int], None] | None = None  # (rows answered, rows to answer)


@dataclass
class _Answers:
    """What one model did on one set: per-row text, token counts, scores per grader, and answer NLLs."""

    texts: list[str]
    new_tokens: list[int]
    prompts: list[str]  # as this model saw them (reward models score prompt + answer)
    scores: dict[str, list[float | None]] = field(default_factory=dict)  # None: missing (unparseable)
    evidence: dict[str, list[dict]] = field(default_factory=dict)  # per grader that explains itself
    nll: list[tuple[float, int]] | None = None


def _load_group(models: Sequence[ModelRef], device: str):
    """One base model with every adapter of the group attached: (model, tokenizer, adapter name by key)."""
    base_path = models[0].weights
    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    names: dict[str, str] = {}
    for i, ref in enumerate(m for m in models if m.base_path):
        name = f"a{i}"
        if isinstance(model, PeftModel):
            model.load_adapter(ref.path, adapter_name=name)
        else:
            model = PeftModel.from_pretrained(model, ref.path, adapter_name=name)
        names[ref.key] = name
    for ref in models:
        names.setdefault(ref.key, BASE_ADAPTER)
    return model.to(device).eval(), load_tokenizer(base_path), names


def _prompts(
    items: Sequence[EvalItem], tokenizer, spec: EvaluationSpec, shots: Sequence[EvalItem] = ()
) -> list[str]:
    def messages(item: EvalItem) -> list[dict]:
        chat = with_examples(item.messages, list(shots)) if shots else item.messages
        if spec.system_prompt and not any(m["role"] == "system" for m in chat):
            chat = [{"role": "system", "content": spec.system_prompt}, *chat]
        return chat

    return [
        render(messages(item), tokenizer, spec.chat_template, add_generation_prompt=True) for item in items
    ]


class _Progress:
    def __init__(self, request: EvalRequest, total: int) -> None:
        self.request, self.total, self.done = request, total, 0

    def add(self, rows: int) -> None:
        self.done += rows
        if self.request.progress:
            self.request.progress(min(self.done, self.total), self.total)


def _answer_set(
    group: Sequence[ModelRef], loaded, items: Sequence[EvalItem], spec: EvaluationSpec, progress: _Progress
) -> dict[str, _Answers]:
    """Every model of the group answers every item, in one mixed batch per length bucket."""
    model, tokenizer, names = loaded
    prompts = _prompts(items, tokenizer, spec)
    params = GenerationParams(**spec.generation.model_dump())
    adapters = [names[ref.key] for ref in group for _ in items] if isinstance(model, PeftModel) else None
    answers = generate_answers(
        model,
        tokenizer,
        prompts * len(group),
        params,
        batch_size=spec.batch_size,
        adapter_names=adapters,
        on_batch=lambda _done: None,
    )
    progress.add(len(items) * len(group))
    out = {}
    for g, ref in enumerate(group):
        chunk = answers[g * len(items) : (g + 1) * len(items)]
        out[ref.key] = _Answers([a["text"] for a in chunk], [a["new_tokens"] for a in chunk], prompts)
    if spec.perplexity and any(item.reference for item in items):
        pairs = [
            (p, item.reference + (tokenizer.eos_token or "")) for p, item in zip(prompts, items, strict=True)
        ]
        nll = answer_nll(
            model, tokenizer, pairs * len(group), batch_size=spec.batch_size, adapter_names=adapters
        )
        for g, ref in enumerate(group):
            out[ref.key].nll = nll[g * len(items) : (g + 1) * len(items)]
    return out


def _question(item: EvalItem) -> str:
    return next((m["content"] for m in reversed(item.messages) if m["role"] == "user"), "")


def _grade(answers: dict[str, _Answers], items: Sequence[EvalItem], graders: Sequence[Grader]) -> None:
    references = [item.reference for item in items]
    questions = [_question(item) for item in items]
    for result in answers.values():
        for grader in graders:
            scores, evidence = grader.score_explained(
                result.texts, references, prompts=result.prompts, questions=questions
            )
            result.scores[grader.name] = scores
            if evidence is not None:
                result.evidence[grader.name] = evidence


def _groups(models: Sequence[ModelRef]) -> list[list[ModelRef]]:
    by_base: dict[str, list[ModelRef]] = {}
    for ref in models:
        by_base.setdefault(str(Path(ref.weights)), []).append(ref)
    return list(by_base.values())


def _summary(answers: dict[str, _Answers], items: Sequence[EvalItem], graders: Sequence[Grader]) -> dict:
    references = [item.reference for item in items]
    models = {}
    for key, result in answers.items():
        figures = {}
        for grader in graders:
            figures[grader.name] = {**stats.interval(result.scores[grader.name])}
            if grader.corpus is not None:
                figures[grader.name]["corpus"] = grader.aggregate(result.texts, references)
            if grader.explained is not None:  # e.g. judge verdicts holding no score
                figures[grader.name]["unparseable"] = sum(s is None for s in result.scores[grader.name])
        models[key] = {
            "graders": figures,
            "mean_new_tokens": sum(result.new_tokens) / max(1, len(result.new_tokens)),
            **({"perplexity": perplexity(result.nll)} if result.nll else {}),
        }
    baseline, *others = list(answers)
    comparisons = {
        key: {g.name: _paired(answers[key].scores[g.name], answers[baseline].scores[g.name]) for g in graders}
        for key in others
    }
    return {"rows": len(items), "models": models, "comparisons": comparisons}


def _paired(candidate: list[float | None], baseline: list[float | None]) -> dict:
    """The paired comparison on the rows both models have a score for."""
    kept = [(a, b) for a, b in zip(candidate, baseline, strict=True) if a is not None and b is not None]
    return stats.paired([a for a, _ in kept], [b for _, b in kept])


def _rows(name: str, answers: dict[str, _Answers], items: Sequence[EvalItem]) -> list[dict]:
    rows = []
    for i, item in enumerate(items):
        outputs = {}
        for key, result in answers.items():
            outputs[key] = {
                "text": result.texts[i],
                "new_tokens": result.new_tokens[i],
                "scores": {grader: values[i] for grader, values in result.scores.items()},
            }
            if result.evidence:
                outputs[key]["evidence"] = {grader: values[i] for grader, values in result.evidence.items()}
            if result.nll:
                outputs[key]["nll"], outputs[key]["tokens"] = result.nll[i]
        rows.append(
            {
                "set": name,
                "index": item.index,
                "messages": item.messages,
                "reference": item.reference,
                "outputs": outputs,
            }
        )
    return rows


def _forgetting(task: dict, general: dict, spec: EvaluationSpec, primary: str) -> dict:
    """For each compared model: its gain on the task beside its change on the general set, flagged when the
    general score drops by more than the threshold the user set."""
    baseline = next(iter(general["models"]))
    before = general["models"][baseline]["graders"][primary]["mean"]
    out = {}
    for key in task["comparisons"]:
        after = general["models"][key]["graders"][primary]["mean"]
        drop = before - after
        out[key] = {
            "grader": primary,
            "task_gain": task["comparisons"][key][primary]["mean_difference"],
            "general_before": before,
            "general_after": after,
            "drop": drop,
            "flagged": drop > spec.forgetting_threshold,
        }
    return out


def _few_shot(request: EvalRequest, loaded, graders: Sequence[Grader], progress: _Progress) -> dict:
    """The baseline model prompted with k solved examples: did tuning beat prompting?"""
    model, tokenizer, names = loaded
    baseline = request.models[0]
    out = {}
    for k in request.spec.few_shot:
        prompts = _prompts(request.items, tokenizer, request.spec, request.examples[:k])
        adapters = [names[baseline.key]] * len(prompts) if isinstance(model, PeftModel) else None
        params = GenerationParams(**request.spec.generation.model_dump())
        answers = generate_answers(
            model, tokenizer, prompts, params, batch_size=request.spec.batch_size, adapter_names=adapters
        )
        progress.add(len(prompts))
        shot = {"m": _Answers([a["text"] for a in answers], [a["new_tokens"] for a in answers], prompts)}
        _grade(shot, request.items, graders)
        out[f"{k}-shot"] = {name: stats.interval(values) for name, values in shot["m"].scores.items()}
    return out


def run_preference_accuracy(request: EvalRequest) -> dict:
    """Each reward model scores every (prompt, chosen, rejected) row; accuracy = chosen scored higher."""
    rows = request.preference_rows
    progress = _Progress(request, 2 * len(rows) * len(request.models))
    models, per_model = {}, {}
    for ref in request.models:
        models[ref.key], per_model[ref.key] = reward_accuracy(
            ref.path,
            rows,
            chat_template=request.spec.chat_template,
            batch_size=request.spec.batch_size,
            device=request.device,
            progress=progress.add,
        )
    summary = {
        "kind": "preference_accuracy",
        "models": {r.key: r.name for r in request.models},
        "graders": ["accuracy"],
        "human_agreement": HUMAN_AGREEMENT,
        "task": {"rows": len(rows), "models": models},
    }
    stored = [
        {
            "set": "task",
            "index": item.index,
            "messages": item.messages,
            "reference": item.reference,
            "outputs": {key: per_model[key][i] for key in per_model},
        }
        for i, item in enumerate(request.items)
    ]
    return {"summary": summary, "rows": stored}


def run_evaluation(request: EvalRequest) -> dict:
    """Answer, grade and summarise. Returns {"summary": {...}, "rows": [...]} (rows: one per item and set)."""
    spec = request.spec
    if spec.kind == "preference_accuracy":
        return run_preference_accuracy(request)
    graders = build_graders(
        spec.graders,
        request.reward_model_paths,
        request.grader_models,
        batch_size=spec.batch_size,
        device=request.device,
    )
    sets = {"task": request.items, **({"general": request.general_items} if request.general_items else {})}
    shots = [k for k in spec.few_shot if k <= len(request.examples)]
    total = sum(len(items) for items in sets.values()) * len(request.models) + len(shots) * len(request.items)
    progress = _Progress(request, total)
    answers: dict[str, dict[str, _Answers]] = {name: {} for name in sets}
    few_shot: dict = {}
    for group in _groups(request.models):
        loaded = _load_group(group, request.device)
        for name, items in sets.items():
            answers[name].update(_answer_set(group, loaded, items, spec, progress))
        if request.models[0] in group and shots:
            few_shot = _few_shot(request, loaded, graders, progress)
        del loaded
    order = [ref.key for ref in request.models]
    summary: dict = {"graders": [g.name for g in graders], "models": {r.key: r.name for r in request.models}}
    rows: list[dict] = []
    for name, items in sets.items():
        ordered = {key: answers[name][key] for key in order}
        _grade(ordered, items, graders)
        summary[name] = _summary(ordered, items, graders)
        rows += _rows(name, ordered, items)
    if "general" in summary:
        summary["forgetting"] = _forgetting(summary["task"], summary["general"], spec, graders[0].name)
    if few_shot:
        summary["few_shot"] = few_shot
    return {"summary": summary, "rows": rows}
