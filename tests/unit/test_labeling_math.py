"""Ranking -> pairs, consensus and agreement figures against cases computed by hand."""

from __future__ import annotations

import pytest

from backend.services import labeling_math as lm
from backend.services.labeling_math import LabelView


def view(item, who, shown, tiers, both_bad=False):
    return LabelView(item_id=item, labeler=who, shown=shown, tiers=tiers, both_bad=both_bad)


def test_every_pair_across_tiers_and_none_within_a_tie():
    assert lm.pairs_from_tiers([[1], [2, 3], [4]]) == [(1, 2), (1, 3), (1, 4), (2, 4), (3, 4)]
    full = lm.pairs_from_tiers([[4], [3], [2], [1]])
    assert len(full) == 6 and (4, 1) in full  # K choose 2 from a full ranking
    assert lm.pairs_from_tiers([[1, 2, 3]]) == []


def test_answers_in_shown_positions_become_tiers_of_candidate_ids():
    shown = [10, 20, 30]
    assert lm.answer_to_tiers("pairwise", {"choice": "B"}, [5, 3])[:1] == ([[3], [5]],)
    assert lm.answer_to_tiers("pairwise", {"choice": "tie"}, [5, 3])[0] == [[5, 3]]
    tiers, verdicts, both_bad = lm.answer_to_tiers("rank", {"ranking": [[3], [1, 2]]}, shown)
    assert (tiers, both_bad) == ([[30], [10, 20]], False)
    assert verdicts == {30: True, 10: False, 20: False}
    tiers, verdicts, _ = lm.answer_to_tiers("rating", {"ratings": {"1": 6, "2": 6, "3": 2}}, shown)
    assert tiers == [[10, 20], [30]] and verdicts == {10: True, 20: True, 30: False}
    tiers, verdicts, _ = lm.answer_to_tiers("thumbs", {"thumbs": {"1": False, "2": True, "3": False}}, shown)
    assert tiers == [[20], [10, 30]] and verdicts == {10: False, 20: True, 30: False}
    assert lm.answer_to_tiers("rank", {"choice": "both_bad"}, shown) == (
        [],
        dict.fromkeys(shown, False),
        True,
    )


@pytest.mark.parametrize(
    ("mode", "answer", "message"),
    [
        ("rank", {"ranking": [[1], [1]]}, "appears twice"),
        ("rank", {"ranking": [[4]]}, "out of range"),
        ("rating", {"ratings": {"1": 8, "2": 1, "3": 1}}, "1..7"),
        ("thumbs", {"thumbs": {"1": True}}, "no value for position(s) 2, 3"),
        ("pairwise", {"choice": "C"}, "not one of"),
    ],
)
def test_bad_answers_name_the_field(mode, answer, message):
    shown = [1, 2] if mode == "pairwise" else [1, 2, 3]
    with pytest.raises(lm.InvalidAnswer, match="answer") as caught:
        lm.answer_to_tiers(mode, answer, shown)
    assert message in str(caught.value)


def test_partial_ranking_leaves_unranked_candidates_out_and_both_bad_has_its_own_value():
    partial = view(1, "a", [10, 20, 30], [[20], [10]])
    assert lm.pair_values(partial) == {(10, 20): -1}
    assert lm.pair_values(view(1, "a", [10, 20], [], both_bad=True)) == {(10, 20): lm.BOTH_BAD}
    assert lm.pair_values(view(1, "a", [10, 20], [[10, 20]])) == {(10, 20): lm.TIE}


def test_majority_with_vote_share_and_no_pair_for_ties_both_bad_or_an_even_split():
    two_to_one = [
        view(1, "a", [1, 2], [[1], [2]]),
        view(1, "b", [2, 1], [[1], [2]]),
        view(1, "c", [1, 2], [[2], [1]]),
    ]
    assert lm.preferred_pairs(two_to_one) == [(1, 2, pytest.approx(2 / 3))]
    split = [view(1, "a", [1, 2], [[1], [2]]), view(1, "b", [1, 2], [[2], [1]])]
    assert lm.preferred_pairs(split) == []
    assert lm.consensus(split)[(1, 2)].value is None
    mostly_tie = [
        view(1, "a", [1, 2], [[1, 2]]),
        view(1, "b", [1, 2], [[1, 2]]),
        view(1, "c", [1, 2], [[1], [2]]),
    ]
    assert lm.preferred_pairs(mostly_tie) == []
    both_bad = [view(1, w, [1, 2], [], both_bad=True) for w in "ab"]
    assert lm.preferred_pairs(both_bad) == []
    # a ranking of three gives every pair across its tiers, each with its own share
    ranks = [view(1, "a", [1, 2, 3], [[1], [2], [3]]), view(1, "b", [1, 2, 3], [[1], [3], [2]])]
    assert sorted(lm.preferred_pairs(ranks)) == [(1, 2, 1.0), (1, 3, 1.0)]


def test_raw_pairwise_agreement():
    table = {("u1",): {"x": 1, "y": 1, "z": -1}, ("u2",): {"x": 1, "y": 1}, ("u3",): {"x": 0}}
    # u1: 1 agreeing labeler pair of 3; u2: 1 of 1; u3 has one labeler and counts for nothing -> 2 / 4
    assert lm.percent_agreement(table) == 0.5
    assert lm.percent_agreement({("u",): {"x": 1}}) is None


def test_krippendorff_alpha_nominal_by_hand():
    # coder 1: [1, 1, -1, -1], coder 2: [1, 1, -1, 1]. Coincidences: o(1,1)=4, o(-1,-1)=2, o(1,-1)=o(-1,1)=1;
    # n1 = 5, n-1 = 3, n = 8. D_o = 2/8, D_e = 2*5*3 / (8*7) = 30/56; alpha = 1 - (2/8)/(30/56) = 8/15.
    coder1, coder2 = [1, 1, -1, -1], [1, 1, -1, 1]
    table = {(u,): {"c1": a, "c2": b} for u, (a, b) in enumerate(zip(coder1, coder2, strict=True))}
    assert lm.alpha(table) == pytest.approx(8 / 15)
    assert lm.alpha({(0,): {"c1": 1, "c2": 1}, (1,): {"c1": 1, "c2": 1}}) == 1.0
    assert lm.alpha({(0,): {"c1": 1}}) is None


def test_labeler_kendall_tau_against_the_others():
    # a: 1 > 2 > 3; the others (b): 1 > 3 > 2. Pairs (1,2), (1,3) concordant, (2,3) discordant: tau = 1/3
    by_item = {1: [view(1, "a", [1, 2, 3], [[1], [2], [3]]), view(1, "b", [1, 2, 3], [[1], [3], [2]])]}
    tau, items = lm.labeler_tau(by_item, "a")
    assert tau == pytest.approx(1 / 3) and items == 1
    assert lm.labeler_tau({1: [view(1, "a", [1, 2], [[1], [2]])]}, "a") == (None, 0)


def test_gold_accuracy():
    labels = [
        view(1, "a", [1, 2], [[1], [2]]),
        view(2, "a", [3, 4], [[3, 4]]),
        view(3, "a", [5, 6], [[6], [5]]),
    ]
    # item 1 right, item 2 (a tie where gold says 3 > 4) wrong, item 3 is not gold
    assert lm.gold_accuracy(labels, {1: [[1], [2]], 2: [[3], [4]]}) == (0.5, 2)


def test_position_and_length_bias():
    labels = [
        view(1, "a", [1, 2], [[1], [2]]),  # first shown wins
        view(1, "b", [2, 1], [[1], [2]]),  # second shown wins
        view(2, "a", [3, 4, 5], [[3], [4], [5]]),  # 3 comparisons, first shown wins each
    ]
    assert lm.position_bias(labels) == (pytest.approx(4 / 5), 5)
    lengths = {1: 10, 2: 5, 3: 5}
    by_length = [
        view(1, "a", [1, 2, 3], [[1], [2, 3]]),  # longer wins twice
        view(1, "b", [1, 2, 3], [[2], [3]]),  # equal lengths: not counted
        view(1, "c", [1, 2], [[2], [1]]),  # shorter wins
    ]
    assert lm.length_bias(by_length, lengths) == (pytest.approx(2 / 3), 3)


def test_kto_verdict_majority():
    labels = [
        LabelView(1, "a", [1, 2], [[1], [2]], verdicts={1: True, 2: False}),
        LabelView(1, "b", [1, 2], [[1], [2]], verdicts={1: True, 2: True}),
    ]
    assert lm.verdict_consensus(labels) == {1: (True, 1.0)}  # candidate 2 splits 1-1: dropped
