"""The arithmetic of preference labels, free of the database: answers to tiers, tiers to pairs, consensus,
agreement (raw pairwise and Krippendorff's alpha), per-labeler Kendall tau and gold accuracy, and bias audits.

An answer becomes *tiers*: candidate ids grouped best first (``[[7], [5, 9]]`` = 7 beats 5 and 9, which tie).
Candidates absent from every tier were not ranked (a partial ranking) and take part in no comparison. A
both-bad answer has no tiers; every pair of its candidates gets the value BOTH_BAD.

For agreement each (item, candidate pair a < b) is one unit, and each labeler's value for it is
+1 (a better), -1 (b better), 0 (tie) or 2 (both bad): nominal categories.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import krippendorff
import numpy as np
from scipy.stats import kendalltau

TIE, BOTH_BAD = 0, 2
PAIRWISE_CHOICES = ("A", "B", "tie", "both_bad")
RATING_RANGE = (1, 7)


class InvalidAnswer(ValueError):
    """An answer that does not fit the campaign's mode; the message names the field and the value."""


@dataclass
class LabelView:
    """One submitted label as the arithmetic sees it."""

    item_id: int
    labeler: str
    shown: list[int]  # candidate ids in the order shown
    tiers: list[list[int]]
    both_bad: bool = False
    verdicts: dict[int, bool] = field(default_factory=dict)


# ---- answers -> tiers ---------------------------------------------------------------------------------


def candidate_at(value, shown: Sequence[int], where: str) -> int:
    """A 1-based shown position (int or digit string) -> candidate id."""
    try:
        index = int(value)
    except (TypeError, ValueError):
        raise InvalidAnswer(f"{where}: {value!r} is not a candidate position (1..{len(shown)})") from None
    if not 1 <= index <= len(shown):
        raise InvalidAnswer(f"{where}: position {index} is out of range 1..{len(shown)}")
    return shown[index - 1]


def _pairwise(answer: dict, shown: Sequence[int]) -> tuple[list[list[int]], dict[int, bool]]:
    choice = answer.get("choice")
    a, b = shown
    if choice == "A":
        return [[a], [b]], {a: True, b: False}
    if choice == "B":
        return [[b], [a]], {b: True, a: False}
    if choice == "tie":
        return [[a, b]], {}
    raise InvalidAnswer(f"answer.choice: {choice!r} is not one of {', '.join(PAIRWISE_CHOICES)}")


def _rank(answer: dict, shown: Sequence[int]) -> tuple[list[list[int]], dict[int, bool]]:
    ranking = answer.get("ranking")
    if not isinstance(ranking, list) or not ranking:
        raise InvalidAnswer(
            "answer.ranking: give a list of tiers of positions, best first, e.g. [[2], [1, 3]]"
        )
    tiers, seen = [], set()
    for t, tier in enumerate(ranking):
        tier = tier if isinstance(tier, list) else [tier]
        ids = [candidate_at(p, shown, f"answer.ranking[{t}]") for p in tier]
        if seen & set(ids) or len(set(ids)) != len(ids):
            raise InvalidAnswer(f"answer.ranking[{t}]: a position appears twice in the ranking")
        seen.update(ids)
        if ids:
            tiers.append(ids)
    verdicts = {c: True for c in tiers[0]} | {c: False for c in tiers[-1]} if len(tiers) > 1 else {}
    return tiers, verdicts


def _per_position(answer: dict, key: str, shown: Sequence[int]) -> dict[int, object]:
    given = answer.get(key)
    if not isinstance(given, dict):
        raise InvalidAnswer(f"answer.{key}: give an object of position -> value for every candidate")
    values = {candidate_at(p, shown, f"answer.{key}"): v for p, v in given.items()}
    missing = [str(i + 1) for i, c in enumerate(shown) if c not in values]
    if missing:
        raise InvalidAnswer(f"answer.{key}: no value for position(s) {', '.join(missing)}")
    return values


def _group(scores: dict[int, float]) -> list[list[int]]:
    return [[c for c in scores if scores[c] == s] for s in sorted(set(scores.values()), reverse=True)]


def _thumbs(answer: dict, shown: Sequence[int]) -> tuple[list[list[int]], dict[int, bool]]:
    values = _per_position(answer, "thumbs", shown)
    for c, v in values.items():
        if not isinstance(v, bool):
            raise InvalidAnswer(
                f"answer.thumbs: {v!r} for position {shown.index(c) + 1} is not true or false"
            )
    return _group({c: float(v) for c, v in values.items()}), dict(values)


def _rating(answer: dict, shown: Sequence[int]) -> tuple[list[list[int]], dict[int, bool]]:
    low, high = RATING_RANGE
    values = _per_position(answer, "ratings", shown)
    for c, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise InvalidAnswer(
                f"answer.ratings: {v!r} for position {shown.index(c) + 1} is not {low}..{high}"
            )
    verdicts = {c: v > 4 for c, v in values.items() if v != 4}
    return _group({c: float(v) for c, v in values.items()}), verdicts


_MODES = {"pairwise": _pairwise, "rank": _rank, "thumbs": _thumbs, "rating": _rating}


def answer_to_tiers(
    mode: str, answer: dict, shown: Sequence[int]
) -> tuple[list[list[int]], dict[int, bool], bool]:
    """(tiers, verdicts, both_bad) for an answer given in shown positions; ValueError names what is wrong.

    Every mode also takes ``{"choice": "both_bad"}``: all candidates are bad, none is preferred.
    """
    if not isinstance(answer, dict):
        raise InvalidAnswer("answer: must be an object")
    if answer.get("choice") == "both_bad":
        return [], {c: False for c in shown}, True
    tiers, verdicts = _MODES[mode](answer, shown)
    return tiers, verdicts, False


# ---- tiers -> pairs, pair values -------------------------------------------------------------------


def pairs_from_tiers(tiers: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """Every (winner, loser) across tiers: K choose 2 from a full ranking without ties; ties give no pair."""
    return [
        (w, lo) for i, upper in enumerate(tiers) for lower in tiers[i + 1 :] for w in upper for lo in lower
    ]


def pair_values(label: LabelView) -> dict[tuple[int, int], int]:
    """(a, b) with a < b -> +1 (a better), -1 (b better), 0 (tie), 2 (both bad), per pair judged."""
    if label.both_bad:
        return {pair: BOTH_BAD for pair in combinations(sorted(label.shown), 2)}
    rank = {c: t for t, tier in enumerate(label.tiers) for c in tier}
    ranked = sorted(rank)
    return {(a, b): int(np.sign(rank[b] - rank[a])) for a, b in combinations(ranked, 2)}


# ---- consensus -----------------------------------------------------------------------------------------


@dataclass
class PairConsensus:
    a: int
    b: int
    value: int | None  # the majority value; None when the vote is split evenly at the top
    share: float  # votes for the majority value / votes
    votes: int


def consensus(labels: Iterable[LabelView]) -> dict[tuple[int, int], PairConsensus]:
    """Per candidate pair of one item: the majority value over labelers, with its vote share."""
    votes: dict[tuple[int, int], Counter] = defaultdict(Counter)
    for label in labels:
        for pair, value in pair_values(label).items():
            votes[pair][value] += 1
    out = {}
    for pair, counter in votes.items():
        ranked = counter.most_common()
        n = sum(counter.values())
        split = len(ranked) > 1 and ranked[0][1] == ranked[1][1]
        out[pair] = PairConsensus(pair[0], pair[1], None if split else ranked[0][0], ranked[0][1] / n, n)
    return out


def preferred_pairs(labels: Iterable[LabelView]) -> list[tuple[int, int, float]]:
    """(chosen, rejected, confidence) where the majority prefers one; ties and both-bad give no pair."""
    out = []
    for c in consensus(labels).values():
        if c.value == 1:
            out.append((c.a, c.b, c.share))
        elif c.value == -1:
            out.append((c.b, c.a, c.share))
    return out


def verdict_consensus(labels: Iterable[LabelView]) -> dict[int, tuple[bool, float]]:
    """Candidate -> (majority good/bad, share) over the labels that gave it a verdict; even splits dropped."""
    votes: dict[int, Counter] = defaultdict(Counter)
    for label in labels:
        for c, good in label.verdicts.items():
            votes[c][good] += 1
    out = {}
    for c, counter in votes.items():
        if counter[True] != counter[False]:
            good = counter[True] > counter[False]
            out[c] = (good, counter[good] / sum(counter.values()))
    return out


# ---- agreement -----------------------------------------------------------------------------------------


def units(labels: Iterable[LabelView]) -> dict[tuple[int, int, int], dict[str, int]]:
    """(item, a, b) -> labeler -> value."""
    out: dict[tuple[int, int, int], dict[str, int]] = defaultdict(dict)
    for label in labels:
        for (a, b), value in pair_values(label).items():
            out[(label.item_id, a, b)][label.labeler] = value
    return out


def percent_agreement(table: dict[tuple, dict[str, int]]) -> float | None:
    """Share of labeler pairs, over units judged by two or more, that gave the same value."""
    agree = total = 0
    for values in table.values():
        for x, y in combinations(values.values(), 2):
            total += 1
            agree += x == y
    return agree / total if total else None


def alpha(table: dict[tuple, dict[str, int]]) -> float | None:
    """Krippendorff's alpha (nominal) over units judged by two or more; None when undefined."""
    shared = {u: v for u, v in table.items() if len(v) >= 2}
    coders = sorted({c for v in shared.values() for c in v})
    if not shared or len(coders) < 2:
        return None
    data = np.full((len(coders), len(shared)), np.nan)
    index = {c: i for i, c in enumerate(coders)}
    for j, values in enumerate(shared.values()):
        for coder, value in values.items():
            data[index[coder], j] = value
    if len(set(np.unique(data[~np.isnan(data)]))) < 2:
        return 1.0  # perfect agreement on a single category: alpha's 0/0, reported as full agreement
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def _scores(label: LabelView) -> dict[int, float]:
    """Higher is better: minus the tier index (both-bad: every candidate 0)."""
    if label.both_bad:
        return dict.fromkeys(label.shown, 0.0)
    return {c: -float(t) for t, tier in enumerate(label.tiers) for c in tier}


def labeler_tau(by_item: dict[int, list[LabelView]], labeler: str) -> tuple[float | None, int]:
    """Mean Kendall tau-b between a labeler's ranking and the mean ranking of the others, over items where
    both rank at least two candidates and tau is defined; with the number of items it averages."""
    taus = []
    for labels in by_item.values():
        own = [lb for lb in labels if lb.labeler == labeler]
        others = [lb for lb in labels if lb.labeler != labeler]
        if not own or not others:
            continue
        mine = _scores(own[0])
        theirs: dict[int, list[float]] = defaultdict(list)
        for other in others:
            for c, s in _scores(other).items():
                theirs[c].append(s)
        common = sorted(set(mine) & set(theirs))
        if len(common) < 2:
            continue
        tau = kendalltau([mine[c] for c in common], [float(np.mean(theirs[c])) for c in common]).statistic
        if not math.isnan(tau):
            taus.append(float(tau))
    return (float(np.mean(taus)) if taus else None), len(taus)


def gold_accuracy(labels: Iterable[LabelView], gold: dict[int, list[list[int]]]) -> tuple[float | None, int]:
    """Share of the gold items' candidate pairs the labeler judged as gold says, with the pairs counted."""
    right = total = 0
    for label in labels:
        if label.item_id not in gold:
            continue
        truth = pair_values(LabelView(label.item_id, "gold", label.shown, gold[label.item_id]))
        given = pair_values(label)
        for pair, value in truth.items():
            total += 1
            right += given.get(pair) == value
    return (right / total if total else None), total


# ---- bias audits ---------------------------------------------------------------------------------------


def position_bias(labels: Iterable[LabelView]) -> tuple[float | None, int]:
    """How often the candidate shown first (left) wins a strict comparison, and over how many comparisons."""
    wins = total = 0
    for label in labels:
        where = {c: i for i, c in enumerate(label.shown)}
        for winner, loser in pairs_from_tiers(label.tiers):
            total += 1
            wins += where[winner] < where[loser]
    return (wins / total if total else None), total


def length_bias(labels: Iterable[LabelView], lengths: dict[int, int]) -> tuple[float | None, int]:
    """How often the longer candidate wins a strict comparison between candidates of different length."""
    wins = total = 0
    for label in labels:
        for winner, loser in pairs_from_tiers(label.tiers):
            if lengths.get(winner, 0) != lengths.get(loser, 0):
                total += 1
                wins += lengths.get(winner, 0) > lengths.get(loser, 0)
    return (wins / total if total else None), total
