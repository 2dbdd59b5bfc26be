"""Small generated data sets shared by tests (no third-party text)."""

from __future__ import annotations

import random

WORDS = ["cat", "dog", "red", "blue", "green", "apple", "paris", "math"]


def preference_pairs(n: int, seed: int = 0) -> list[dict]:
    """The chosen reply always ends with 'thanks': a separable preference a tiny reward model learns."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        reply = " ".join(rng.choice(WORDS) for _ in range(3))
        rows.append(
            {
                "prompt": [{"role": "user", "content": " ".join(rng.choice(WORDS) for _ in range(3))}],
                "chosen": [{"role": "assistant", "content": reply + " thanks"}],
                "rejected": [{"role": "assistant", "content": reply}],
            }
        )
    return rows
