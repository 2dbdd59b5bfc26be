"""Where benchmarks and quality checks find the real data sets: a folder given by --data-dir.

The sets are not in the repository (DialogSum is CC BY-NC-SA 4.0, the Alpaca seed tasks CC BY-NC 4.0: they may
not ship in an Apache-2.0 project). The default is `../shared/data` beside the repository when it exists; a
missing file stops the run with where to put it and where to get it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = ROOT.parent / "shared" / "data"

#: file under the data folder -> what it is and where it comes from
KNOWN = {
    "dialogsum/dialogsum.dev.jsonl": "the DialogSum dev split as JSONL with fields fname, dialogue, summary, "
    "topic (github.com/cylnlp/dialogsum, CC BY-NC-SA 4.0)",
    "hh-rlhf/harmless-base.sample1500.jsonl": "Anthropic HH-RLHF harmless-base pairs as JSONL with fields "
    "chosen, rejected (github.com/anthropics/hh-rlhf, MIT)",
    "alpaca/seed_tasks.jsonl": "Stanford Alpaca's seed tasks as JSONL with fields id, name, instruction, "
    "instances, is_classification (github.com/tatsu-lab/stanford_alpaca, CC BY-NC 4.0)",
}


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"folder holding the real data sets (default: {DEFAULT_DATA_DIR})",
    )


def data_file(data_dir: Path, relative: str) -> Path:
    """The path of a real data file, or SystemExit saying where to put it."""
    path = Path(data_dir) / relative
    if not path.is_file():
        raise SystemExit(missing_message(data_dir, relative))
    return path


def missing_message(data_dir: Path, relative: str) -> str:
    return (
        f"{Path(data_dir) / relative} is missing. Put {KNOWN.get(relative, relative)} at "
        f"<data-dir>/{relative} and pass --data-dir <data-dir> (default {DEFAULT_DATA_DIR})."
    )
