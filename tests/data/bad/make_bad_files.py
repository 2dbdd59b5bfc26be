"""Regenerate the bad-upload corpus, one file per failure kind: python tests/data/bad/make_bad_files.py."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent


def chat(user: str, reply: str) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]}


def jsonl(rows: list) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode()) + b"\n" for r in rows
    )


GOOD = [chat(f"Question number {i}?", f"Answer number {i}.") for i in range(1, 10)]

FILES: dict[str, bytes] = {
    "empty.jsonl": b"",
    "blank_lines_only.jsonl": b"\n  \n\n",
    "invalid_json_line7.jsonl": jsonl(
        GOOD[:6] + [b'{"messages": [{"role": "user", "content": "oops"}'] + GOOD[6:8]
    ),
    "missing_messages.jsonl": jsonl([GOOD[0], {"conversation": "user: hi"}, GOOD[2]]),
    "unknown_role.jsonl": jsonl(
        GOOD[:2] + [{"messages": [{"role": "user", "content": "Hi"}, {"role": "bot", "content": "Hello"}]}]
    ),
    "not_ending_with_assistant.jsonl": jsonl(
        [
            GOOD[0],
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hey"},
                    {"role": "user", "content": "Bye"},
                ]
            },
        ]
    ),
    "identical_chosen_rejected.jsonl": jsonl(
        [
            {"prompt": "Pick one.", "chosen": "A", "rejected": "A"},
            {"prompt": "Pick two.", "chosen": "B", "rejected": "C"},
        ]
    ),
    "invalid_utf8.jsonl": jsonl(GOOD[:3] + [b'{"text_": 1, "messages": "caf\xe9 \xff"}'] + GOOD[3:5]),
    "wrong_type.jsonl": jsonl(
        [
            {"instruction": "Add.", "input": "1 1", "output": "2"},
            {"instruction": "Add.", "input": "2 2", "output": 4},
        ]
    ),
    "empty_content.jsonl": jsonl(GOOD[:2] + [chat("Say something.", "   ")]),
    "truncated_array.json": json.dumps(GOOD[:3]).encode()[:-40],
    "missing_column.csv": b"instruction,input,output\nReverse it.,abc,cba\nUpper it.,abc\n",
    "gzipped_bad.jsonl.gz": gzip.compress(jsonl([GOOD[0], b"not json at all", GOOD[1]]), mtime=0),
    "unsplittable_transcript.jsonl": jsonl(
        [
            {
                "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!",
                "rejected": "\n\nHuman: Hi\n\nAssistant: Go away.",
            },
            {
                "chosen": "\n\nHuman: Tell a joke.\n\nAssistant: No.",
                "rejected": "\n\nHuman: Sing.\n\nAssistant: La.",
            },
        ]
    ),
    "too_long.jsonl": jsonl([{"text": "short one"}, {"text": "short two"}, {"text": "x" * 5000}]),
    "bad_kto_label.jsonl": jsonl(
        [
            {"prompt": "Q?", "completion": "A.", "label": True},
            {"prompt": "Q?", "completion": "B.", "label": "maybe"},
        ]
    ),
    "not_an_object.jsonl": jsonl([GOOD[0], [1, 2, 3], GOOD[1]]),
    "unknown_format.jsonl": jsonl([{"question": "Q?", "reply": "A."}]),
    "prompt_ends_with_assistant.jsonl": jsonl(
        [
            {
                "prompt": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}],
                "chosen": "Fine.",
                "rejected": "Bad.",
            }
        ]
    ),
    "sharegpt_bad_from.json": json.dumps(
        [{"conversations": [{"from": "robot", "value": "beep"}, {"from": "gpt", "value": "boop"}]}]
    ).encode(),
    "corrupt.parquet": b"PAR1" + b"\x00garbage" * 10,
    "many_errors.jsonl": jsonl(
        [
            GOOD[0],
            b"{broken",
            {"messages": [{"role": "alien", "content": "x"}, {"role": "assistant", "content": "y"}]},
            {"messages": "just a string"},
            b"{broken again",
        ]
    ),
}


def wrong_columns_parquet() -> bytes:
    table = pa.table({"question": ["Q1?", "Q2?"], "reply": ["A1.", "A2."]})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def main() -> None:
    FILES["wrong_columns.parquet"] = wrong_columns_parquet()
    for name, data in FILES.items():
        (HERE / name).write_bytes(data)
    print(f"wrote {len(FILES)} files to {HERE}")


if __name__ == "__main__":
    main()
