"""Reward functions for online RL: the evaluation graders (format, length, exact match, regex) and a trained
reward model. A rule reward is the grader of the same kind, so training and evaluation measure alike."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from backend.schemas.evaluation import GraderSpec
from backend.schemas.job_specs import RewardFunctionSpec
from worker.evaluation.graders import Grader, build_grader
from worker.training.models import adapter_base_path, is_adapter_dir, load_reference, load_tokenizer
from worker.training.reward import is_causal_backbone

#: fn(prompts, completions, **dataset_columns) -> one float per completion (TRL's reward function signature)
RewardFn = Callable[..., list[float]]


def _text(completion) -> str:
    """TRL passes strings for text prompts and message lists for conversational ones."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion)
    return completion


def grader_reward(grader: Grader) -> RewardFn:
    """A grader as a reward: the same scores an evaluation with that grader reports for the same answers.
    The row's reference answer comes from its `answer` column; reward models read the prompts."""

    def reward(prompts, completions, answer=None, plain_prompt=None, **_):
        texts = [_text(c) for c in completions]
        references = list(answer) if answer is not None else [""] * len(texts)
        prompt_texts = [_text(p) for p in prompts]
        return grader.score(texts, references, prompts=prompt_texts, questions=plain_prompt or prompt_texts)

    return reward


def _saved_labels(model_path: str) -> int:
    """How many classes a classifier folder was saved with (an adapter's head: the reward model's one)."""
    if is_adapter_dir(model_path):
        return 1
    config = json.loads((Path(model_path) / "config.json").read_text())
    return len(config.get("id2label") or {}) or int(config.get("num_labels") or 1)


def _sequence_logits(model_path: str, batch_size: int):
    """Load a sequence-classification model once; returns (fn(prompts, completions, plain_prompt) -> logits
    rows, the model's config). Causal backbones read templated prompt + reply; encoders plain text."""
    causal = is_causal_backbone(model_path)
    tokenizer = load_tokenizer(
        model_path, fallback=adapter_base_path(model_path) if is_adapter_dir(model_path) else None
    )
    model = load_reference(model_path, task="seq_cls", num_labels=_saved_labels(model_path))
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)

    @torch.no_grad()
    def logits(prompts, completions, plain_prompt=None) -> torch.Tensor:
        # causal reward models were trained on templated text; encoders on plain "question\nreply"
        texts = (
            [p + _text(c) for p, c in zip(prompts, completions, strict=True)]
            if causal
            else [q + "\n" + _text(c) for q, c in zip(plain_prompt or prompts, completions, strict=True)]
        )
        rows = []
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[i : i + batch_size],
                add_special_tokens=not causal,
                padding=True,
                truncation=True,
                max_length=1024,
                return_tensors="pt",
            ).to(device)
            rows.append(model(**enc).logits.float().cpu())
        return torch.cat(rows) if rows else torch.zeros((0, model.config.num_labels))

    return logits, model.config


def model_reward(model_path: str, *, batch_size: int = 16) -> RewardFn:
    """The score of a sequence-classification reward model (a reward job's output folder)."""
    logits, _ = _sequence_logits(model_path, batch_size)

    def reward_model(prompts, completions, plain_prompt=None, **_):
        return logits(prompts, completions, plain_prompt)[:, 0].tolist()

    return reward_model


def classifier_labels(config) -> list[str]:
    """A classifier's label names in class order (id2label; a reward model has one: LABEL_0)."""
    names = dict(getattr(config, "id2label", None) or {})
    return [str(names.get(i, names.get(str(i), f"LABEL_{i}"))) for i in range(config.num_labels)]


def classifier_reward(model_path: str, label: str | None, *, batch_size: int = 16) -> RewardFn:
    """The probability a trained classifier gives `label` for (prompt, reply), in [0, 1]: the softmax over
    its labels, or the sigmoid of the score when it has one label (a reward model: P(good reply))."""
    logits, config = _sequence_logits(model_path, batch_size)
    labels = classifier_labels(config)
    if label is None and len(labels) == 1:
        label = labels[0]
    if label not in labels:
        raise ValueError(
            f"classifier {model_path} has no label '{label}': its labels are {', '.join(labels)}"
        )
    index = labels.index(label)

    def probability(prompts, completions, plain_prompt=None, **_):
        rows = logits(prompts, completions, plain_prompt)
        probs = torch.sigmoid(rows[:, 0]) if rows.shape[1] == 1 else torch.softmax(rows, dim=-1)[:, index]
        return probs.tolist()

    return probability


def scored_by(fn: RewardFn):
    """A (prompts, completions) scorer as a grader's per-row function: the evaluation and the reward read the
    same columns, so both give the same scores for the same answers."""

    def per_row(answers, _refs, columns):
        prompts = columns.get("prompts") or [""] * len(answers)
        return fn(prompts, answers, plain_prompt=columns.get("questions") or prompts)

    return per_row


def classifier_grader(name: str, path: str, label: str | None) -> Grader:
    """The probability, in [0, 1], that a trained classifier gives `label` for (prompt, answer)."""
    return Grader(name, scored_by(classifier_reward(path, label)))


def build_reward(
    spec: RewardFunctionSpec,
    reward_model_paths: dict[int, str],
    classifier_paths: dict[int, str] | None = None,
) -> RewardFn:
    """One reward function from one RewardFunctionSpec: a rule or a classifier is the grader of that kind."""
    if spec.kind == "classifier":
        model_id = spec.classifier_model_id
        path = (classifier_paths or {}).get(model_id) or (classifier_paths or {}).get(str(model_id))
        if not path:
            raise ValueError(f"classifier model {model_id} has no folder on this worker")
        return grader_reward(classifier_grader(f"classifier_m{model_id}", path, spec.label))
    if spec.kind == "model":
        job_id = spec.reward_model_job_id
        path = reward_model_paths.get(job_id) or reward_model_paths.get(str(job_id))
        if not path:
            raise ValueError(
                f"reward model job {job_id} has no model folder: train it first or remove the reward"
            )
        return model_reward(path)
    grader = build_grader(GraderSpec(kind=spec.kind, pattern=spec.pattern, target_length=spec.target_length))
    return grader_reward(grader)


def build_rewards(
    specs: Sequence[RewardFunctionSpec | Mapping],
    reward_model_paths: dict[int, str],
    classifier_paths: dict[int, str] | None = None,
) -> tuple[list[RewardFn], list[float]]:
    """The reward functions with their weights, names made unique for per-reward logging.

    Specs may be given as their JSON (scripts, tests): they are validated, so the spec owns every default.
    """
    typed = [RewardFunctionSpec.model_validate(s) for s in specs]
    fns = []
    for i, spec in enumerate(typed):
        fn = build_reward(spec, reward_model_paths, classifier_paths)
        fn.__name__ = f"{spec.kind}_{i}"
        fns.append(fn)
    return fns, [spec.weight for spec in typed]


def weighted_sum(fns: Sequence[RewardFn], weights: Sequence[float]) -> RewardFn:
    """Sum of weighted rewards, for trainers that take one function."""

    def total(prompts, completions, **kwargs):
        parts = [fn(prompts, completions, **kwargs) for fn in fns]
        return [sum(w * p[i] for w, p in zip(weights, parts, strict=True)) for i in range(len(completions))]

    return total
