"""HH-RLHF transcripts: two whole conversations ("\\n\\nHuman: ...\\n\\nAssistant: ...") that share a prompt
and differ in the last reply, split into the prompt's turns and the two replies."""

from __future__ import annotations

import re

HH_ASSISTANT = "\n\nAssistant:"
_HH_TURN = re.compile(r"\n\n(Human|Assistant):")


def _common_prefix_len(a: str, b: str) -> int:
    """Length of the shared prefix, by binary search over C-level slice compares."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _transcript_turns(text: str) -> list[dict[str, str]]:
    """'\\n\\nHuman: a\\n\\nAssistant: b' -> [user a, assistant b]; leading text becomes a system turn."""
    parts = _HH_TURN.split(text)
    turns = [{"role": "system", "content": parts[0].strip()}] if parts[0].strip() else []
    for speaker, content in zip(parts[1::2], parts[2::2]):
        turns.append({"role": "user" if speaker == "Human" else "assistant", "content": content.strip()})
    return turns


def split_transcripts(chosen: str, rejected: str) -> tuple[list[dict], str, str] | None:
    """Split an HH-RLHF pair at the last '\\n\\nAssistant:' both share; None when there is none."""
    shared = _common_prefix_len(chosen, rejected)
    cut = chosen.rfind(HH_ASSISTANT, 0, shared)
    if cut < 0:
        return None
    start = cut + len(HH_ASSISTANT)
    return _transcript_turns(chosen[:cut]), chosen[start:].strip(), rejected[start:].strip()
