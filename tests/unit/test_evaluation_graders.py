"""Graders agree with the reference libraries called directly, and the statistics with hand-computed cases."""

from __future__ import annotations

import math

import pytest
import sacrebleu
from pydantic import ValidationError
from rouge_score import rouge_scorer

from backend.schemas.evaluation import GraderSpec
from backend.stats import bradley_terry, interval, paired, win_rate_interval
from worker.evaluation.graders import build_grader, normalize_answer
from worker.training.rewards import build_rewards

ANSWERS = [
    "#Person1# asks #Person2# about the party. They agree to meet at eight.",
    "The weather is running late today",
    "She bought three apples and one pear.",
]
REFERENCES = [
    "#Person1# and #Person2# talk about the party and decide to meet at 8.",
    "The train is running late.",
    "She bought 3 apples.\nThen she went home.",
]


@pytest.mark.parametrize("rouge_type", ["rouge1", "rouge2", "rougeL", "rougeLsum"])
def test_rouge_equals_rouge_score(rouge_type):
    direct = rouge_scorer.RougeScorer([rouge_type], use_stemmer=True)
    expected = [direct.score(r, a)[rouge_type].fmeasure for a, r in zip(ANSWERS, REFERENCES, strict=True)]
    got = build_grader(GraderSpec(kind="rouge", rouge_type=rouge_type)).score(ANSWERS, REFERENCES)
    assert got == pytest.approx(expected, abs=1e-12)
    assert len(set(got)) > 1  # the strings differ in overlap: a constant would mean nothing was compared


def test_bleu_and_chrf_equal_sacrebleu():
    bleu, chrf = build_grader(GraderSpec(kind="bleu")), build_grader(GraderSpec(kind="chrf"))
    assert bleu.score(ANSWERS, REFERENCES) == pytest.approx(
        [sacrebleu.sentence_bleu(a, [r]).score / 100 for a, r in zip(ANSWERS, REFERENCES, strict=True)]
    )
    assert bleu.aggregate(ANSWERS, REFERENCES) == pytest.approx(
        sacrebleu.corpus_bleu(ANSWERS, [REFERENCES]).score / 100
    )
    assert chrf.score(ANSWERS, REFERENCES) == pytest.approx(
        [sacrebleu.sentence_chrf(a, [r]).score / 100 for a, r in zip(ANSWERS, REFERENCES, strict=True)]
    )
    assert chrf.aggregate(ANSWERS, REFERENCES) == pytest.approx(
        sacrebleu.corpus_chrf(ANSWERS, [REFERENCES]).score / 100
    )


def test_rule_graders():
    assert build_grader(GraderSpec(kind="exact_match")).score(
        ["  Paris ", "paris!", ""], ["paris", "Paris", ""]
    ) == [
        1.0,
        0.0,
        0.0,
    ]
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    nem = build_grader(GraderSpec(kind="normalized_exact_match"))
    assert nem.score(["The answer: Paris.", "an apple"], ["answer Paris", "pear"]) == [1.0, 0.0]
    fmt = build_grader(GraderSpec(kind="format", pattern=r"<answer>\d+</answer>"))
    assert fmt.score(["<answer>42</answer>", "so <answer>42</answer>"]) == [1.0, 0.0]
    assert build_grader(GraderSpec(kind="regex", pattern=r"\d+")).score(["so 42", "none"]) == [1.0, 0.0]
    assert build_grader(GraderSpec(kind="length", target_length=10)).score(
        ["x" * 10, "x" * 15, "x" * 30]
    ) == [
        1.0,
        0.5,
        0.0,
    ]
    assert build_grader(GraderSpec(kind="length")).score(["abc "]) == [3.0]
    assert build_grader(GraderSpec(kind="json_valid")).score(['{"a": [1, 2]}', "{a: 1}", " 3 "]) == [
        1.0,
        0.0,
        1.0,
    ]


def test_grader_spec_refuses_what_it_cannot_run():
    for kind, needed in (("regex", "pattern"), ("model", "reward_model_job_id"), ("judge", "judge_model_id")):
        with pytest.raises(ValidationError, match=needed):
            GraderSpec(kind=kind)
    with pytest.raises(ValidationError):
        GraderSpec(kind="rouge", bogus=1)
    with pytest.raises(ValueError, match="2 answers but 1 references"):
        build_grader(GraderSpec(kind="bleu")).score(["a", "b"], ["a"])


def test_interval_brackets_the_mean_and_collapses_when_constant():
    ci = interval([0.0, 1.0] * 50)
    assert ci["low"] < 0.5 < ci["high"] and ci["mean"] == 0.5 and ci["n"] == 100
    assert 0.35 < ci["low"] and ci["high"] < 0.65  # ±1.96·sqrt(.25/100) ≈ ±0.098
    assert interval([0.3, 0.3, 0.3]) == {"mean": 0.3, "low": 0.3, "high": 0.3, "n": 3}
    assert interval([])["n"] == 0 and math.isnan(interval([])["mean"])


def test_paired_counts_and_sign_test():
    result = paired([1, 1, 1, 1, 1, 1, 1, 1, 0, 0.5], [0, 0, 0, 0, 0, 0, 0, 0, 1, 0.5])
    assert (result["wins"], result["ties"], result["losses"]) == (8, 1, 1)
    assert result["win_rate"] == pytest.approx(8.5 / 10)
    # exact two-sided sign test: 2 * P(X <= 1 | n=9, p=.5) = 2 * 10/512
    assert result["sign_test_p"] == pytest.approx(20 / 512)
    assert result["mean_difference"] == pytest.approx(0.7)
    assert result["difference_low"] > 0 and result["bootstrap_p"] < 0.05
    even = paired([1, 0, 1, 0], [0, 1, 0, 1])
    assert even["sign_test_p"] == 1.0 and even["difference_low"] < 0 < even["difference_high"]
    with pytest.raises(ValueError, match="same rows"):
        paired([1, 2], [1])


def test_win_rate_interval_is_wilson():
    ci = win_rate_interval(60, 0, 40)
    # Wilson 95 % for 60/100: 0.5020 .. 0.6906
    assert ci["win_rate"] == 0.6 and ci["low"] == pytest.approx(0.5020, abs=1e-3)
    assert ci["high"] == pytest.approx(0.6906, abs=1e-3)


def test_bradley_terry_orders_models_by_strength():
    names = ["base", "tuned", "other"]
    votes = [(1, 0)] * 30 + [(0, 1)] * 10 + [(1, 2)] * 25 + [(2, 1)] * 15 + [(2, 0)] * 22 + [(0, 2)] * 18
    board = bradley_terry(names, votes)
    assert [row["name"] for row in board] == ["tuned", "other", "base"]
    assert all(row["low"] <= row["score"] <= row["high"] for row in board)
    assert board[0]["low"] > board[-1]["high"]  # 3:1 is a clear difference at 40 votes a pair
    assert sum(row["votes"] for row in board) == 2 * len(votes)


@pytest.mark.parametrize(
    ("spec", "answers"),
    [
        ({"kind": "format", "pattern": r"<answer>\d+</answer>"}, None),
        ({"kind": "regex", "pattern": r"\bpear\b"}, None),
        ({"kind": "length", "target_length": 12}, None),
        ({"kind": "exact_match"}, ["Paris", "an apple", "", "a pear"]),
    ],
)
def test_a_rule_reward_scores_exactly_as_its_grader(spec, answers):
    """What a GRPO/RLOO/PPO job was rewarded for is what an evaluation with the same grader measures."""
    completions = [
        " paris ",
        "<answer>42</answer>",
        "a pear, thanks",
        [{"role": "assistant", "content": "a pear"}],
    ]
    texts = [c if isinstance(c, str) else c[0]["content"] for c in completions]
    (reward,), _ = build_rewards([spec], {})
    kwargs = {"answer": answers} if answers is not None else {}
    rewarded = reward(["q"] * 4, completions, **kwargs)
    graded = build_grader(GraderSpec(**spec)).score(texts, answers)
    assert rewarded == graded
    assert len(set(graded)) > 1  # the cases tell answers apart
