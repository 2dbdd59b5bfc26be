"""The statistics an evaluation reports: bootstrap confidence intervals, paired comparisons of two models on
the same rows, and Bradley–Terry scores from pairwise votes. scipy and choix do the work; this module only
shapes it.

    interval(scores)                       # {"mean": .., "low": .., "high": ..}
    paired(tuned_scores, base_scores)      # wins/ties/losses, mean difference with its interval, p-values
    bradley_terry(["a", "b"], [(0, 1), ...])  # [{"name": "a", "score": .., "low": .., "high": ..}, ...]
"""

from __future__ import annotations

from collections.abc import Sequence

import choix
import numpy as np
from scipy import stats

#: 95 % intervals from 1,000 resamples, seeded so the same rows give the same interval every time
CONFIDENCE = 0.95
RESAMPLES = 1000
SEED = 0


def interval(
    values: Sequence[float], *, confidence: float = CONFIDENCE, seed: int = SEED
) -> dict[str, float]:
    """The mean with a percentile-bootstrap confidence interval (the interval collapses to the mean for fewer
    than 2 rows or when every value is the same)."""
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    mean = float(data.mean())
    if data.size < 2 or np.all(data == data[0]):
        return {"mean": mean, "low": mean, "high": mean, "n": int(data.size)}
    result = stats.bootstrap(
        (data,),
        np.mean,
        confidence_level=confidence,
        n_resamples=RESAMPLES,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return {"mean": mean, "low": float(ci.low), "high": float(ci.high), "n": int(data.size)}


def paired(
    candidate: Sequence[float], baseline: Sequence[float], *, tolerance: float = 1e-9, seed: int = SEED
) -> dict[str, float | int]:
    """Compare two models' scores on the same rows: win/tie/loss counts for the candidate, the mean difference
    with a bootstrap interval, and two p-values: the sign test over non-tied rows (exact binomial) and the
    paired bootstrap (how often the resampled mean difference falls on the other side of zero)."""
    a, b = np.asarray(candidate, dtype=float), np.asarray(baseline, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired comparison needs the same rows: {a.size} against {b.size} scores")
    diff = a - b
    wins, losses = int((diff > tolerance).sum()), int((diff < -tolerance).sum())
    ties = int(diff.size - wins - losses)
    sign_p = float(stats.binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else 1.0
    spread = interval(diff, seed=seed)
    rng = np.random.default_rng(seed)
    if diff.size >= 2:
        means = diff[rng.integers(0, diff.size, size=(RESAMPLES, diff.size))].mean(axis=1)
        side = (means <= 0).mean() if diff.mean() > 0 else (means >= 0).mean()
        bootstrap_p = float(min(1.0, 2 * side))
    else:
        bootstrap_p = 1.0
    return {
        "wins": wins,
        "ties": ties,
        "losses": losses,
        "win_rate": (wins + 0.5 * ties) / diff.size if diff.size else float("nan"),
        "mean_difference": spread["mean"],
        "difference_low": spread["low"],
        "difference_high": spread["high"],
        "sign_test_p": sign_p,
        "bootstrap_p": bootstrap_p,
    }


def win_rate_interval(
    wins: int, ties: int, losses: int, *, confidence: float = CONFIDENCE
) -> dict[str, float]:
    """A win rate (ties count half) with the Wilson interval of the binomial proportion."""
    n = wins + ties + losses
    if n == 0:
        return {"win_rate": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    rate = (wins + 0.5 * ties) / n
    ci = stats.binomtest(round(wins + 0.5 * ties), n).proportion_ci(confidence, method="wilson")
    return {"win_rate": rate, "low": float(ci.low), "high": float(ci.high), "n": n}


def _strengths(n_items: int, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    # a small ridge (alpha) keeps the estimate finite for a model that never lost or never won
    return choix.ilsr_pairwise(n_items, list(pairs), alpha=0.01)


def bradley_terry(
    names: Sequence[str], pairs: Sequence[tuple[int, int]], *, seed: int = SEED, resamples: int = 200
) -> list[dict[str, float | str]]:
    """Bradley–Terry scores (log-strengths, centred on 0) from (winner, loser) index pairs, with percentile
    bootstrap intervals over the votes; sorted best first. Ties and both-bad votes carry no pair."""
    if not pairs:
        return [{"name": n, "score": 0.0, "low": 0.0, "high": 0.0, "votes": 0} for n in names]
    votes = np.asarray(pairs, dtype=int)
    point = _strengths(len(names), pairs)
    rng = np.random.default_rng(seed)
    draws = np.stack(
        [
            _strengths(len(names), votes[rng.integers(0, len(votes), len(votes))].tolist())
            for _ in range(resamples)
        ]
    )
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    counts = np.bincount(votes.ravel(), minlength=len(names))
    board = [
        {
            "name": n,
            "score": float(point[i]),
            "low": float(low[i]),
            "high": float(high[i]),
            "votes": int(counts[i]),
        }
        for i, n in enumerate(names)
    ]
    return sorted(board, key=lambda row: row["score"], reverse=True)
