"""Small generated data sets shared by tests (no third-party text)."""

from __future__ import annotations

import json
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


TOPICS = ["doctor visit", "job interview", "shopping", "travel plans", "restaurant", "moving house"]
ITEMS = ["a ticket", "a room", "a jacket", "an appointment", "a table", "a parcel"]


def dialogsum_like_rows(n: int, seed: int = 0) -> list[dict]:
    """Rows in DialogSum's shape (fname, dialogue, summary, topic) with text made up here: DialogSum itself
    is CC BY-NC-SA and stays out of the repository. Speakers are `#Person1#:`, turns joined by newlines."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topic, item = rng.choice(TOPICS), rng.choice(ITEMS)
        turns = [
            f"#Person1#: Hello, I would like {item}, please.",
            f"#Person2#: Of course. For which day do you need {item}?",
        ]
        for _ in range(rng.randint(1, 4)):
            turns.append(
                f"#Person1#: Is {rng.choice(WORDS)} possible? I ' m not sure about {rng.choice(WORDS)}."
            )
            turns.append(f"#Person2#: Yes, {rng.choice(WORDS)} is fine, and {rng.choice(WORDS)} costs extra.")
        turns.append("#Person1#: Thank you, that is all.")
        rows.append(
            {
                "fname": f"dev_{i}",
                "dialogue": "\n".join(turns),
                "summary": f"#Person1# asks #Person2# for {item} and settles the details.",
                "topic": topic,
            }
        )
    return rows


def alpaca_like_seed_tasks(n: int, seed: int = 0) -> list[dict]:
    """Tasks in the shape of Stanford Alpaca's seed tasks (id, name, instruction, nested instances of
    {input, output}, is_classification), written here: the seed set itself is CC BY-NC. Some tasks have
    several instances, so flattening is tested too."""
    rng = random.Random(seed)
    tasks = []
    for i in range(n):
        classification = i % 7 == 0
        instances = [
            {
                "input": "" if k == 0 and i % 3 == 0 else f"{rng.choice(WORDS)} and {rng.choice(WORDS)}",
                "output": rng.choice(["Yes", "No"]) if classification else f"{rng.choice(WORDS)} {k}",
            }
            for k in range(1 + (i % 4 == 0) + (i % 10 == 0))
        ]
        tasks.append(
            {
                "id": f"seed_task_{i}",
                "name": f"task_{i}",
                "instruction": f"Answer about {rng.choice(WORDS)} in one word (task {i}).",
                "instances": instances,
                "is_classification": classification,
            }
        )
    return tasks


def write_jsonl(path, rows: list[dict]):
    """Write rows as JSONL and return the path."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path
