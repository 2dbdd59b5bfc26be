"""`make bench`: the quick form of every benchmark, one after another, each printing its figure and ratio.

    python -m bench.run_all [--data-dir ../shared/data] [--quality]

Quick forms are small enough for a laptop in a few minutes and write nothing to bench/results (the full
commands in bench/README.md produce the kept figures). A benchmark whose real data set is missing is reported
with where to put it, and the others still run. --quality adds the DialogSum ROUGE-L quality check (it
converts the bundled SmolLM2 once and trains it through a private studio: tens of minutes on a CPU).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench.data import ROOT, add_data_dir_argument, missing_message

#: name, module and quick arguments, real data files needed (under --data-dir)
QUICK = [
    ("ingest", "bench.bench_ingest", ["--size-mb", "20"], []),
    (
        "sft throughput",
        "bench.bench_sft",
        ["--rounds", "1", "--rows", "16", "--loss-rows", "2", "--hidden", "128"]
        + ["--layers", "2", "--heads", "4", "--intermediate", "344", "--no-write"],
        ["dialogsum/dialogsum.dev.jsonl"],
    ),
]
QUALITY = [
    (
        "dialogsum rouge",
        "bench.dialogsum_rouge",
        ["--train-rows", "16", "--eval-rows", "2", "--max-steps", "4", "--max-length", "256", "--no-write"],
        ["dialogsum/dialogsum.dev.jsonl"],
    ),
]


def run(name: str, module: str, quick: list[str], needs: list[str], data_dir: Path) -> str:
    missing = [relative for relative in needs if not (data_dir / relative).is_file()]
    if missing:
        for relative in missing:
            print(f"[{name}] not run: {missing_message(data_dir, relative)}", flush=True)
        return "not run (data missing)"
    uses_data = ["--data-dir", str(data_dir)] if needs else []
    command = [sys.executable, "-m", module, *quick, *uses_data]
    print(f"\n[{name}] {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    code = subprocess.run(command, cwd=ROOT, check=False).returncode
    return f"ok in {time.perf_counter() - started:.0f} s" if code == 0 else f"FAILED (exit {code})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--quality", action="store_true", help="also run the DialogSum quality check")
    args = parser.parse_args()
    outcomes = {
        name: run(name, module, quick, needs, args.data_dir)
        for name, module, quick, needs in QUICK + (QUALITY if args.quality else [])
    }
    print("\nsummary")
    for name, outcome in outcomes.items():
        print(f"  {name:16s} {outcome}")
    return 1 if any(o.startswith("FAILED") for o in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
