"""Graders: score a model's answer for a row. One registry serves evaluation jobs and the RL rewards, so
what a job was rewarded for is exactly what an evaluation can measure.

    grader = build_grader(GraderSpec(kind="rouge", rouge_type="rougeL"))
    grader.score(answers=["the cat sat"], references=["a cat sat down"])  # -> [0.571...]
    grader.aggregate(answers, references)  # corpus-level where the metric defines one (BLEU, chrF)

Text graders need no model; the model-backed ones (reward model, classifier, judge) live in
model_graders.py and register themselves there, so importing this module stays light.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache

import sacrebleu
from rouge_score import rouge_scorer

from backend.schemas.evaluation import GraderSpec

#: fn(answers, references, columns) -> one score per answer. `columns` carries what model-backed graders need
#: besides the answer: "prompts" (the prompt text as the model saw it) and "questions" (the plain question).
ScoreFn = Callable[[list[str], list[str], dict[str, list[str]]], list[float]]
#: the same arguments -> (scores, one evidence dict per answer); a score may be None (missing: e.g. a judge's
#: verdict held no score), and the evidence says why (the judge's own words)
ExplainFn = Callable[[list[str], list[str], dict[str, list[str]]], tuple[list[float | None], list[dict]]]


@dataclass
class Grader:
    """A named per-row scorer; `corpus` is the metric's own corpus-level form when it has one."""

    name: str
    per_row: ScoreFn
    corpus: ScoreFn | None = None
    needs_reference: bool = False
    #: the range a score lives in, for plots and for reading it as a reward
    bounds: tuple[float | None, float | None] = field(default=(0.0, 1.0))
    #: graders whose scores come with per-row evidence (and may be missing) explain themselves here
    explained: ExplainFn | None = None

    def score(
        self, answers: Sequence[str], references: Sequence[str] | None = None, **columns: Sequence[str]
    ) -> list[float]:
        refs = list(references) if references is not None else [""] * len(answers)
        if len(refs) != len(answers):
            raise ValueError(f"{self.name}: {len(answers)} answers but {len(refs)} references")
        return self.per_row(list(answers), refs, {k: list(v) for k, v in columns.items()})

    def score_explained(
        self, answers: Sequence[str], references: Sequence[str] | None = None, **columns: Sequence[str]
    ) -> tuple[list[float | None], list[dict] | None]:
        """Scores with per-row evidence where the grader gives some (None otherwise)."""
        if self.explained is None:
            return self.score(answers, references, **columns), None
        refs = list(references) if references is not None else [""] * len(answers)
        return self.explained(list(answers), refs, {k: list(v) for k, v in columns.items()})

    def aggregate(self, answers: Sequence[str], references: Sequence[str] | None = None) -> float:
        """The corpus-level figure: the metric's own where defined (BLEU, chrF), else the mean of the rows."""
        if self.corpus is not None:
            return self.corpus(list(answers), list(references or [""] * len(answers)), {})[0]
        scores = self.score(answers, references)
        return sum(scores) / len(scores) if scores else float("nan")


@cache
def _rouge(rouge_type: str) -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer([rouge_type], use_stemmer=True)


def _rouge_grader(spec: GraderSpec) -> Grader:
    scorer = _rouge(spec.rouge_type)

    def rouge(answers, refs, _columns=None):
        # rougeLsum splits summaries into sentences on newlines: that is its definition
        return [scorer.score(r, a)[spec.rouge_type].fmeasure for a, r in zip(answers, refs, strict=True)]

    return Grader(spec.rouge_type, rouge, needs_reference=True)


def _bleu_grader(_: GraderSpec) -> Grader:
    def per_row(answers, refs, _columns=None):
        return [sacrebleu.sentence_bleu(a, [r]).score / 100 for a, r in zip(answers, refs, strict=True)]

    def corpus(answers, refs, _columns=None):
        return [sacrebleu.corpus_bleu(answers, [refs]).score / 100]

    return Grader("bleu", per_row, corpus, needs_reference=True)


def _chrf_grader(_: GraderSpec) -> Grader:
    def per_row(answers, refs, _columns=None):
        return [sacrebleu.sentence_chrf(a, [r]).score / 100 for a, r in zip(answers, refs, strict=True)]

    def corpus(answers, refs, _columns=None):
        return [sacrebleu.corpus_chrf(answers, [refs]).score / 100]

    return Grader("chrf", per_row, corpus, needs_reference=True)


def _spaces(text: str) -> str:
    return " ".join(text.strip().lower().split())


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def _exact_match_grader(_: GraderSpec) -> Grader:
    # Case and spacing ignored: the rule reward GRPO has always used, kept so rewards and evaluations agree.
    def per_row(answers, refs, _columns=None):
        return [
            float(bool(r.strip()) and _spaces(a) == _spaces(r)) for a, r in zip(answers, refs, strict=True)
        ]

    return Grader("exact_match", per_row, needs_reference=True)


def _normalized_exact_match_grader(_: GraderSpec) -> Grader:
    def per_row(answers, refs, _columns=None):
        return [
            float(bool(normalize_answer(r)) and normalize_answer(a) == normalize_answer(r))
            for a, r in zip(answers, refs, strict=True)
        ]

    return Grader("normalized_exact_match", per_row, needs_reference=True)


def _format_grader(spec: GraderSpec) -> Grader:
    regex = re.compile(spec.pattern, re.DOTALL)

    def per_row(answers, _refs, _columns=None):
        return [float(regex.fullmatch(a.strip()) is not None) for a in answers]

    return Grader("format", per_row)


def _regex_grader(spec: GraderSpec) -> Grader:
    regex = re.compile(spec.pattern, re.DOTALL)

    def per_row(answers, _refs, _columns=None):
        return [float(regex.search(a) is not None) for a in answers]

    return Grader("regex", per_row)


def _length_grader(spec: GraderSpec) -> Grader:
    target = spec.target_length
    if target is None:  # the plain length in characters: a measurement, not a score
        return Grader(
            "length",
            lambda answers, _r, _c=None: [float(len(a.strip())) for a in answers],
            bounds=(0.0, None),
        )

    def per_row(answers, _refs, _columns=None):
        # 1 at the target, falling linearly to 0 at zero or twice the target
        return [max(0.0, 1.0 - abs(len(a.strip()) - target) / target) for a in answers]

    return Grader("length", per_row)


def _json_valid_grader(_: GraderSpec) -> Grader:
    def valid(text: str) -> float:
        try:
            json.loads(text.strip())
        except ValueError:
            return 0.0
        return 1.0

    return Grader("json_valid", lambda answers, _r, _c=None: [valid(a) for a in answers])


#: kind -> factory. Model-backed kinds are added by worker.evaluation.model_graders.
GRADERS: dict[str, Callable[[GraderSpec], Grader]] = {
    "rouge": _rouge_grader,
    "bleu": _bleu_grader,
    "chrf": _chrf_grader,
    "exact_match": _exact_match_grader,
    "normalized_exact_match": _normalized_exact_match_grader,
    "format": _format_grader,
    "regex": _regex_grader,
    "length": _length_grader,
    "json_valid": _json_valid_grader,
}


def build_grader(spec: GraderSpec) -> Grader:
    try:
        factory = GRADERS[spec.kind]
    except KeyError:
        raise ValueError(
            f"grader kind '{spec.kind}' needs a model; load worker.evaluation.model_graders"
        ) from None
    return factory(spec)
