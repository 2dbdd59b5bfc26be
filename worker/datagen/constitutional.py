"""Constitutional AI, supervised stage: answer a prompt, critique the answer against a sampled principle,
revise; repeat for N rounds. The revised answers are SFT rows, and (revised, original) are preference pairs.

    record = constitutional_chunk(generator, prompts, params, chunk=0, start=0, seed=0)
    sft_rows, pairs, dropped = rows_from_items(items)

All prompts of a chunk move through each step together, so every step is one batched generation.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

from backend.schemas.datagen import ConstitutionalParams
from worker.datagen.generators import TextGenerator

CRITIQUE_REQUEST = (
    "Critique your last response against this principle: {principle}\n"
    "Point out every way in which it falls short. Do not rewrite it yet."
)
REVISION_REQUEST = (
    "Rewrite your response so that it follows the principle: {principle}\n"
    "Reply with the rewritten response only."
)


def prompt_messages(row: dict) -> list[dict] | None:
    """The conversation to answer, from a normalised row of any format that has one."""
    if "prompt" in row and isinstance(row["prompt"], list):
        return row["prompt"]
    if "messages" in row:
        msgs = list(row["messages"])
        while msgs and msgs[-1]["role"] == "assistant":
            msgs.pop()
        return msgs or None
    if "instruction" in row:
        content = row["instruction"] + (f"\n\n{row['input']}" if row.get("input") else "")
        return [{"role": "user", "content": content}]
    return None


def _answer(chat: list[dict], text: str) -> list[dict]:
    return [*chat, {"role": "assistant", "content": text}]


def constitutional_chunk(
    generator: TextGenerator,
    prompts: Sequence[list[dict]],
    params: ConstitutionalParams,
    *,
    chunk: int,
    start: int,
    seed: int,
) -> dict:
    """Run every round for `prompts` (rows start.. of the source); returns the ledger record."""
    rng = random.Random(f"{seed}:{chunk}")
    base_seed = seed * 100_003 + chunk * 101
    initial = generator.generate(list(prompts), seed=base_seed)
    current = list(initial)
    rounds: list[list[dict]] = [[] for _ in prompts]
    for r in range(params.rounds):
        principles = [rng.choice(params.constitution) for _ in prompts]
        critique_chats = [
            [*_answer(p, cur), {"role": "user", "content": CRITIQUE_REQUEST.format(principle=pr)}]
            for p, cur, pr in zip(prompts, current, principles, strict=True)
        ]
        critiques = generator.generate(critique_chats, seed=base_seed + 2 * r + 1)
        revision_chats = [
            [*_answer(chat, crit), {"role": "user", "content": REVISION_REQUEST.format(principle=pr)}]
            for chat, crit, pr in zip(critique_chats, critiques, principles, strict=True)
        ]
        revisions = generator.generate(revision_chats, seed=base_seed + 2 * r + 2)
        for i, (pr, crit, rev) in enumerate(zip(principles, critiques, revisions, strict=True)):
            rounds[i].append({"principle": pr, "critique": crit, "revision": rev})
            if rev.strip():  # an empty revision keeps the answer it was meant to improve
                current[i] = rev
    items = [
        {
            "index": start + i,
            "prompt": list(p),
            "initial": initial[i],
            "revised": current[i],
            "rounds": rounds[i],
        }
        for i, p in enumerate(prompts)
    ]
    return {"chunk": chunk, "items": items}


def rows_from_items(items: Sequence[dict]) -> tuple[list[dict], list[dict], Counter]:
    """SFT rows of the revised answers and pairs preferring them over the originals, with drop reasons
    (an empty answer cannot be trained on; an unchanged one makes no pair)."""
    sft, pairs, dropped = [], [], Counter()
    for item in items:
        initial, revised = item["initial"].strip(), item["revised"].strip()
        if not revised:
            dropped["empty_revision"] += 1
            continue
        sft.append({"messages": _answer(item["prompt"], revised)})
        if not initial:
            dropped["empty_original"] += 1
        elif initial == revised:
            dropped["unchanged_by_revision"] += 1
        else:
            pairs.append(
                {
                    "prompt": item["prompt"],
                    "chosen": [{"role": "assistant", "content": revised}],
                    "rejected": [{"role": "assistant", "content": initial}],
                }
            )
    return sft, pairs, dropped
