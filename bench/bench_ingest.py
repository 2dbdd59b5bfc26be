"""Benchmark ingest_file against datasets.load_dataset("json") on a synthetic chat JSONL: MB/s and peak RSS.

    python -m bench.bench_ingest --size-mb 200

Each side runs in its own subprocess so each peak RSS is its own: ru_maxrss of that process plus the
largest of its children (ingest's range workers run alongside it, so their peaks add), and a sampled
peak of the summed RSS of the whole process tree.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import psutil

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "model",
    "token",
    "train",
    "data",
    "loss",
    "learning",
    "rate",
    "batch",
    "layer",
    "weight",
    "gradient",
    "prompt",
    "answer",
    "reason",
    "check",
    "value",
]


def make_chat_jsonl(path: Path, size_mb: float, seed: int = 0) -> int:
    """Write synthetic chat rows until the file reaches size_mb; returns the row count."""
    rng = random.Random(seed)
    # a pool of sentences, recombined per row: generation stays fast at gigabyte sizes
    pool = [" ".join(rng.choices(WORDS, k=rng.randint(6, 40))) + "." for _ in range(4096)]
    target = int(size_mb * 1e6)
    written = rows = 0
    with open(path, "wb") as f:
        while written < target:
            chunk = []
            for _ in range(2000):
                rows += 1
                turns = (
                    [{"role": "system", "content": "You are a helpful assistant."}] if rows % 3 == 0 else []
                )
                for t in range(rng.choice((1, 1, 2, 3))):
                    turns.append(
                        {
                            "role": "user",
                            "content": f"Question {rows}.{t}: " + " ".join(rng.choices(pool, k=3)),
                        }
                    )
                    turns.append(
                        {"role": "assistant", "content": " ".join(rng.choices(pool, k=rng.randint(2, 8)))}
                    )
                chunk.append(orjson.dumps({"messages": turns}))
            data = b"\n".join(chunk) + b"\n"
            f.write(data)
            written += len(data)
    return rows


def peak_rss_mb() -> float:
    """This process's peak RSS plus the largest peak among its finished children (Linux: KiB).

    ingest runs range workers in child processes at the same time as itself, so their peaks add up;
    with several children this sum is an upper bound (RUSAGE_CHILDREN keeps the largest child's peak).
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + kids) / 1024


class TreeSampler(threading.Thread):
    """Samples the summed RSS of this process and all its descendants every 20 ms; keeps the peak."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self._stop_event.wait(0.02):
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak / 2**20


def child(kind: str, src: Path, work: Path) -> dict:
    # imports happen before the clock starts: we time the work, not the interpreter warming up
    sampler = TreeSampler()
    if kind == "ingest":
        from backend.ingest import ingest_file

        sampler.start()
        start = time.perf_counter()
        report = ingest_file(src, work / "normalised.jsonl", filename=src.name)
        rows = report.row_count
    else:
        import datasets

        datasets.disable_progress_bars()
        sampler.start()
        start = time.perf_counter()
        ds = datasets.load_dataset(
            "json", data_files=str(src), cache_dir=str(work / "hf-cache"), split="train"
        )
        rows = ds.num_rows
    elapsed = time.perf_counter() - start
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds (user + sys) say how much of the run was this work's, if the machine was busy otherwise
    return {
        "kind": kind,
        "rows": rows,
        "seconds": elapsed,
        "peak_rss_mb": peak_rss_mb(),
        "tree_peak_mb": sampler.stop(),
        "cpu_s": own.ru_utime + own.ru_stime,
        "children_cpu_s": kids.ru_utime + kids.ru_stime,
    }


def run_child(kind: str, src: Path, work: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_ingest", "--child", kind, "--src", str(src), "--work", str(work)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=200)
    parser.add_argument("--child", choices=["ingest", "datasets"])
    parser.add_argument("--src", type=Path)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--tmp", type=Path, default=None, help="where to put the generated file")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.src, args.work)))
        return
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        work = Path(tmp)
        src = work / "chat.jsonl"
        t0 = time.perf_counter()
        rows = make_chat_jsonl(src, args.size_mb)
        mb = src.stat().st_size / 1e6
        print(f"generated {mb:.0f} MB, {rows} chat rows in {time.perf_counter() - t0:.1f}s")
        results = {}
        for kind in ("datasets", "ingest"):
            (work / kind).mkdir()
            r = run_child(kind, src, work / kind)
            r["mb_per_s"] = mb / r["seconds"]
            results[kind] = r
            print(
                f"{kind:9s} {r['seconds']:7.1f} s  {r['mb_per_s']:7.1f} MB/s  "
                f"peak RSS {r['peak_rss_mb']:7.0f} MB (sampled tree peak {r['tree_peak_mb']:5.0f} MB)  "
                f"CPU {r['cpu_s']:5.1f} s + children {r['children_cpu_s']:4.1f} s"
                f"  rows {r['rows']}"
            )
        ing, hf = results["ingest"], results["datasets"]
        print(
            f"ratio ingest/datasets: speed x{ing['mb_per_s'] / hf['mb_per_s']:.2f}, "
            f"peak RSS x{ing['peak_rss_mb'] / hf['peak_rss_mb']:.2f}"
        )


if __name__ == "__main__":
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    main()
