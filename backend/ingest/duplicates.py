"""The parallel ingest's duplicate check across byte ranges, and the previews of the duplicates it finds."""

from __future__ import annotations

from array import array

from backend.ingest.readers import READ_BUFFER
from backend.ingest.validate import RowValidator


def check_duplicates(hashes: array, validator: RowValidator, room: int) -> tuple[int, int, list[int], int]:
    """Check a range's row hashes against every earlier row: (duplicates, index of the first, indexes of the
    first ``room`` for previews, index where the check's cap falls or -1)."""
    base, cap, seen = validator.row_count, validator.dup_cap, validator.seen
    dup_count, dup_at, dup_first = 0, -1, []  # dup_first: local output line numbers for previews
    capped_at = -1
    if base + len(hashes) <= cap and seen.isdisjoint(hashes) and len(set(hashes)) == len(hashes):
        seen.update(hashes)  # the usual case, all in C: no duplicate and no cap in this range
        return dup_count, dup_at, dup_first, capped_at
    for i, h in enumerate(hashes):
        if base + i >= cap:  # the check stops at the cap, wherever in the file it falls
            if base + i == cap:
                capped_at = i
            break
        if h in seen:
            dup_count += 1
            if dup_at < 0:
                dup_at = i
            if len(dup_first) < room:
                dup_first.append(i)
        else:
            seen.add(h)
    return dup_count, dup_at, dup_first, capped_at


def part_lines(path: str, wanted: list[int]) -> dict[int, bytes]:
    """Lines ``wanted`` (0-based) of a part file, for duplicate previews; reads only as far as needed."""
    if not wanted:
        return {}
    last, want = max(wanted), set(wanted)
    found = {}
    with open(path, "rb", buffering=READ_BUFFER) as f:
        for i, line in enumerate(f):
            if i in want:
                found[i] = line.rstrip(b"\n")
            if i >= last:
                break
    return found
