"""Benchmark an Afina SFT job (padding-free packing) against plain TRL SFTTrainer (padded) on DialogSum.

    python -m bench.bench_sft --rows 64 --batch-size 8 --rounds 2 [--data-dir ../shared/data]

Real (non-padding) tokens/s, padding share, peak RSS and the loss of both on one fixed batch. The baseline is
TRL's SFTTrainer as its docs use it: prompt/completion chat rows, default padded collator, a peft LoraConfig
equal to Afina's default adapter. The candidate is `run_training(method="sft")` with `packing=True`. Each run
is its own subprocess (its own ru_maxrss) and the two alternate (A B B A ...) so background load hits both.

The ideal speed-up from dropping padding is 1 / (1 - pad share) of the baseline's batches; the figure that
matters is the achieved speed-up as a share of that ceiling (target >= 0.8 on CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.data import add_data_dir_argument, data_file

ROOT = Path(__file__).resolve().parents[1]
DIALOGSUM = "dialogsum/dialogsum.dev.jsonl"  # under --data-dir (bench/data.py says where to get it)
SMOLLM2 = ROOT / ".afina" / "models" / "SmolLM2-135M-Instruct"
RESULTS = ROOT / "bench" / "results"
PROMPT = "Summarize the following conversation.\n\n"
#: Afina's default adapter (AdapterSpec defaults: LoRA r 16, alpha 2r, dropout 0.05, attention projections)
LORA = {"r": 16, "alpha": 32, "dropout": 0.05, "targets": ["q_proj", "k_proj", "v_proj", "o_proj"]}


# ---------------------------------------------------------------------------------------------------- setup


def chat_rows(n: int, data_dir: Path) -> list[dict]:
    rows = []
    with open(data_file(data_dir, DIALOGSUM)) as f:
        for line in f:
            r = json.loads(line)
            rows.append(
                {
                    "messages": [
                        {"role": "user", "content": PROMPT + r["dialogue"]},
                        {"role": "assistant", "content": r["summary"]},
                    ]
                }
            )
            if len(rows) == n:
                break
    return rows


def build_model(dest: Path, *, hidden: int, layers: int, heads: int, intermediate: int, seed: int) -> str:
    """A random Llama of the given shape with SmolLM2's tokenizer (the tiny test tokenizer without it)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from worker.training.tiny import build_tokenizer

    if (SMOLLM2 / "tokenizer.json").is_file():
        tok, tok_name = AutoTokenizer.from_pretrained(SMOLLM2), "SmolLM2-135M-Instruct"
    else:
        tok, tok_name = build_tokenizer(vocab_size=2000), "tiny BPE (SmolLM2 folder absent)"
    config = LlamaConfig(
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=4096,
        vocab_size=len(tok),
        tie_word_embeddings=True,
        rope_theta=100000.0,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(dest)
    tok.save_pretrained(dest)
    return tok_name


# ------------------------------------------------------------------------------------------- child: a run


class Meter:
    """Per batch: tokens in the tensor, real tokens, loss tokens; per optimizer step: the clock at its end."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, int, int]] = []
        self.step_ends: list[float] = []

    def install(self) -> None:
        # every SFTTrainer builds batches with this collator, padded or padding-free; wrap it at class level
        from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

        original, meter = DataCollatorForLanguageModeling.torch_call, self

        def torch_call(collator, examples):
            out = original(collator, examples)
            total = out["input_ids"].numel()
            real = int(out["attention_mask"].sum()) if "attention_mask" in out else total
            meter.batches.append((total, real, int((out["labels"] != -100).sum())))
            return out

        DataCollatorForLanguageModeling.torch_call = torch_call

    def summary(self, warmup: int) -> dict:
        steps = len(self.step_ends)
        timed = self.batches[warmup + 1 : steps]  # batch i is the one step i trained on (accumulation 1)
        seconds = self.step_ends[-1] - self.step_ends[warmup]
        total = sum(b[0] for b in timed)
        real = sum(b[1] for b in timed)
        every = self.batches[:steps]
        return {
            "steps": steps,
            "timed_steps": steps - warmup - 1,
            "seconds": seconds,
            "tokens": total,
            "real_tokens": real,
            "loss_tokens": sum(b[2] for b in timed),
            "real_tokens_per_s": real / seconds,
            "tokens_per_s": total / seconds,
            "pad_share": 1 - sum(b[1] for b in every) / sum(b[0] for b in every),
            "epoch_real_tokens": sum(b[1] for b in every),
            "epoch_loss_tokens": sum(b[2] for b in every),
            "mean_batch_tokens": sum(b[0] for b in every) / steps,
        }


def lora_config():
    from peft import LoraConfig

    return LoraConfig(
        task_type="CAUSAL_LM",
        r=LORA["r"],
        lora_alpha=LORA["alpha"],
        lora_dropout=LORA["dropout"],
        target_modules=LORA["targets"],
    )


def baseline_trainer(model_path: str, rows: list[dict], out: Path, args, *, adapter: str):
    """Plain TRL: prompt/completion chat rows, TRL's own tokenization, default (padded) collator."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    torch.manual_seed(args.seed)
    data = Dataset.from_list([{"prompt": r["messages"][:1], "completion": r["messages"][1:]} for r in rows])
    config = SFTConfig(
        output_dir=str(out),
        per_device_train_batch_size=args.batch_size,
        max_length=args.max_length,
        num_train_epochs=1,
        learning_rate=2e-4 if adapter == "lora" else 1e-5,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        seed=args.seed,
        data_seed=args.seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_pin_memory=False,
        bf16=False,
    )
    return SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32),
        processing_class=AutoTokenizer.from_pretrained(model_path),
        train_dataset=data,
        args=config,
        peft_config=lora_config() if adapter == "lora" else None,
    )


def afina_spec(args, *, packing: bool, adapter: str) -> dict:
    return {
        "adapter": {"type": adapter},
        "training": {
            "batch_size": args.batch_size if not packing else args.packed_batch_size,
            "max_length": args.max_length,
            "packing": packing,
            "num_epochs": 1,
            "seed": args.seed,
            "save_steps": 10**6,
            "logging_steps": 1,
            "precision": "fp32",
        },
    }


def run_child(kind: str, args) -> dict:
    import torch
    from transformers import TrainerCallback

    from worker.training.reporting import NullReporter
    from worker.training.runner import TrainRequest, run_training

    torch.set_num_threads(args.threads)
    rows = chat_rows(args.rows, args.data_dir)
    meter = Meter()
    meter.install()
    out = Path(tempfile.mkdtemp(prefix=f"bench-sft-{kind}-"))
    if kind == "trl-padded":

        class Clock(TrainerCallback):
            def on_step_end(self, *_, **__):
                meter.step_ends.append(time.perf_counter())

        trainer = baseline_trainer(args.model_path, rows, out, args, adapter=args.adapter)
        trainer.add_callback(Clock())
        trainer.train()
        loss = trainer.state.log_history[0]["loss"]
    else:

        class ClockReporter(NullReporter):  # Afina's ReporterCallback calls set_progress at every step end
            def set_progress(self, step, total_steps):
                if step > len(meter.step_ends):
                    meter.step_ends.append(time.perf_counter())

        torch.manual_seed(args.seed)
        result = run_training(
            TrainRequest(
                method="sft",
                spec=afina_spec(args, packing=kind == "afina-packed", adapter=args.adapter),
                model_path=args.model_path,
                train_rows=rows,
                output_dir=str(out),
                reporter=ClockReporter(),
            )
        )
        loss = result.metrics.get("loss")
    report = meter.summary(args.warmup)
    report.update(
        kind=kind, last_loss=loss, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return report


# -------------------------------------------------------------------------------- child: loss on one batch


def loss_check(args) -> dict:
    """The same initial weights, the same examples: loss of TRL's padded batch vs Afina's packed batch."""
    import torch
    from trl import SFTTrainer

    from backend.schemas.job_specs import SFTSpec
    from worker.training.models import load_for_training
    from worker.training.runner import TrainRequest
    from worker.training.sft import sft_config, tokenized_dataset, use_packed_attention

    torch.set_num_threads(args.threads)
    rows = chat_rows(args.loss_rows, args.data_dir)
    out = Path(tempfile.mkdtemp(prefix="bench-sft-loss-"))
    small = argparse.Namespace(**{**vars(args), "batch_size": len(rows), "packed_batch_size": len(rows)})
    base = baseline_trainer(args.model_path, rows, out / "trl", small, adapter=args.adapter)

    spec = SFTSpec.model_validate(afina_spec(small, packing=True, adapter=args.adapter))
    torch.manual_seed(args.seed)
    loaded = load_for_training(args.model_path, spec)
    use_packed_attention(loaded.model)  # as Afina's SFT recipe does for a packed run
    req = TrainRequest(
        method="sft", spec=spec, model_path=args.model_path, train_rows=rows, output_dir=str(out / "afina")
    )
    afina = SFTTrainer(
        model=loaded.model,
        processing_class=loaded.tokenizer,
        train_dataset=tokenized_dataset(req.train_rows, loaded.tokenizer, spec, loss_on="assistant"),
        args=sft_config(spec, req, loaded.precision, has_eval=False, packing=True, loss_on="assistant"),
    )
    result = {}
    for name, trainer in (("trl-padded", base), ("afina-packed", afina)):
        batches = list(trainer.get_train_dataloader())
        assert len(batches) == 1, f"{name}: the fixed batch should be one batch, got {len(batches)}"
        batch = batches[0]
        trainer.model.eval()  # no LoRA dropout: the two forward passes must see the same function
        with torch.no_grad():
            loss = float(trainer.compute_loss(trainer.model, batch))
        ids = batch["input_ids"]
        mask = batch.get("attention_mask")
        result[name] = {
            "loss": loss,
            "shape": list(ids.shape),
            "loss_tokens": int((batch["labels"] != -100).sum()),
            "real_tokens": int(mask.sum()) if mask is not None else ids.numel(),
            "attn": trainer.model.config.get_text_config()._attn_implementation,
        }
    a, b = result["trl-padded"]["loss"], result["afina-packed"]["loss"]
    result["relative_difference"] = abs(a - b) / abs(a)
    return result


# ------------------------------------------------------------------------------------------------- parent


def spawn(mode: str, args) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "bench.bench_sft",
        "--child",
        mode,
        "--model-path",
        args.model_path,
        *child_flags(args),
    ]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    if done.returncode:
        shown = "\n".join(line for line in done.stderr.splitlines() if line.strip())  # no progress-bar blanks
        sys.stderr.write(shown[-6000:] + "\n")
        raise SystemExit(f"{mode} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_flags(args) -> list[str]:
    return [
        "--rows",
        str(args.rows),
        "--batch-size",
        str(args.batch_size),
        "--packed-batch-size",
        str(args.packed_batch_size),
        "--max-length",
        str(args.max_length),
        "--warmup",
        str(args.warmup),
        "--seed",
        str(args.seed),
        "--adapter",
        args.adapter,
        "--threads",
        str(args.threads),
        "--loss-rows",
        str(args.loss_rows),
        "--data-dir",
        str(args.data_dir),
    ]


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import torch
    import transformers
    import trl

    return (
        f"{os.cpu_count()} CPU cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}, "
        f"torch {torch.__version__}, transformers {transformers.__version__}, trl {trl.__version__}; "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )


def markdown(record: dict) -> str:
    loss = record["loss_check"]
    lines = [
        "# Afina SFT (padding-free packing) vs plain TRL SFTTrainer (padded batches)",
        "",
        f"`{record['command']}`",
        "",
        (
            f"Machine: {record['machine']}. Model: {record['model']}; tokenizer {record['tokenizer']}; "
            "LoRA r 16 on the attention projections (Afina's default adapter) on both sides; fp32. "
            "Data: DialogSum dev rows as chat (user: the prompt and dialogue, assistant: the summary), "
            "one epoch, loss on the summary only. "
            "Each run is its own subprocess (peak RSS = its ru_maxrss); the variants alternate; the first "
            f"{record['settings']['warmup']} step(s) of each run are left out of the clock."
        ),
        "",
        "| variant | real tok/s | ratio | pad share | steps | tokens/batch | peak RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in record["table"]:
        lines.append(
            f"| {t['variant']} | {t['real_tokens_per_s']:.0f} | {t['ratio']:.2f} | {t['pad_share']:.3f} | "
            f"{t['steps']} | {t['mean_batch_tokens']:.0f} | {t['peak_rss_mb']:.0f} MB |"
        )
    lines += [
        "",
        (
            f"Padding ceiling 1/(1 - {record['pad_share']:.3f}) = **{record['ceiling']:.2f}x**; achieved "
            f"**{record['speedup']:.2f}x** real tokens/s (per round: "
            f"{', '.join(f'{x:.2f}' for x in record['speedup_per_round'])}) = "
            f"**{record['fraction_of_ceiling']:.2f}** "
            "of the ceiling (target >= 0.80)."
        ),
        "",
        (
            f"Loss on one fixed batch of {record['settings']['loss_rows']} examples, same initial weights, "
            f"eval mode: TRL padded {loss['trl-padded']['loss']:.6f} (batch {loss['trl-padded']['shape']}), "
            "Afina packed "
            f"{loss['afina-packed']['loss']:.6f} (row {loss['afina-packed']['shape']}); relative difference "
            f"{loss['relative_difference']:.1e}; loss tokens {loss['trl-padded']['loss_tokens']} vs "
            f"{loss['afina-packed']['loss_tokens']}."
        ),
        "",
    ]
    return "\n".join(lines + record.get("notes", [])) + "\n"


def write_results(record: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sft_throughput.json").write_text(json.dumps(record, indent=2) + "\n")
    (RESULTS / "sft_throughput.md").write_text(markdown(record))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=24, help="DialogSum dev rows trained on, one epoch")
    p.add_argument("--batch-size", type=int, default=4, help="examples per step, padded baseline")
    p.add_argument(
        "--packed-batch-size",
        type=int,
        default=1,
        help="packed rows of max-length tokens per step (Afina); 1 x 1024 ~ 4 DialogSum examples",
    )
    p.add_argument("--max-length", type=int, default=1024)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--intermediate", type=int, default=1376)
    p.add_argument(
        "--model-path", default=None, help="a model folder instead of the random one built from the flags"
    )
    p.add_argument("--adapter", default="lora", choices=["lora", "none"])
    p.add_argument("--rounds", type=int, default=2, help="runs of each variant, alternating A B B A ...")
    p.add_argument("--warmup", type=int, default=1, help="steps left out of the clock")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--loss-rows", type=int, default=6)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--with-afina-padded", action="store_true", help="also run Afina with packing off")
    p.add_argument("--no-write", action="store_true", help="print only; leave bench/results alone")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    add_data_dir_argument(p)
    args = p.parse_args()
    data_file(args.data_dir, DIALOGSUM)  # stop now, with where to put it, if the data set is missing

    if args.child:
        print(json.dumps(loss_check(args) if args.child == "loss" else run_child(args.child, args)))
        return

    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-sft-"))
    tokenizer = "the model's own"
    if args.model_path is None:
        args.model_path = str(work / "model")
        tokenizer = build_model(
            Path(args.model_path),
            hidden=args.hidden,
            layers=args.layers,
            heads=args.heads,
            intermediate=args.intermediate,
            seed=args.seed,
        )
    about = machine()
    print(about, flush=True)
    loss = spawn("loss", args)
    print(
        f"loss on one fixed batch of {args.loss_rows} examples: TRL padded {loss['trl-padded']['loss']:.6f}, "
        f"Afina packed {loss['afina-packed']['loss']:.6f}, relative difference "
        f"{loss['relative_difference']:.2e}",
        flush=True,
    )

    kinds = ["trl-padded", "afina-packed"] + (["afina-padded"] if args.with_afina_padded else [])
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    for r in range(args.rounds):
        for kind in kinds if r % 2 == 0 else kinds[::-1]:
            runs[kind].append(spawn(kind, args))
            x = runs[kind][-1]
            print(
                f"round {r + 1} {kind:13s} {x['real_tokens_per_s']:8.0f} real tok/s  "
                f"pad {x['pad_share']:.3f}  "
                f"steps {x['steps']}  peak RSS {x['peak_rss_mb']:.0f} MB",
                flush=True,
            )

    base = runs["trl-padded"]
    pad = statistics.mean(b["pad_share"] for b in base)
    ceiling = 1 / (1 - pad)
    # ratio per round (each pair ran back to back, under the same background load), then the median
    per_round = [c["real_tokens_per_s"] / b["real_tokens_per_s"] for b, c in zip(base, runs["afina-packed"])]
    speedup = statistics.median(per_round)
    table = []
    for kind in kinds:
        xs = runs[kind]
        tps = statistics.median(x["real_tokens_per_s"] for x in xs)
        table.append(
            {
                "variant": kind,
                "real_tokens_per_s": tps,
                "ratio": tps / statistics.median(b["real_tokens_per_s"] for b in base),
                "pad_share": statistics.mean(x["pad_share"] for x in xs),
                "steps": xs[0]["steps"],
                "mean_batch_tokens": xs[0]["mean_batch_tokens"],
                "epoch_real_tokens": xs[0]["epoch_real_tokens"],
                "epoch_loss_tokens": xs[0]["epoch_loss_tokens"],
                "peak_rss_mb": max(x["peak_rss_mb"] for x in xs),
            }
        )
    record = {
        "command": "python -m bench.bench_sft " + " ".join(sys.argv[1:]),
        "machine": about,
        "tokenizer": tokenizer,
        "model": args.model_path
        if tokenizer == "the model's own"
        else f"random Llama hidden {args.hidden}, {args.layers} layers, {args.heads} heads, intermediate "
        f"{args.intermediate}, tied embeddings",
        "settings": {k: v for k, v in vars(args).items() if k not in ("child", "model_path", "no_write")},
        "pad_share": pad,
        "ceiling": ceiling,
        "speedup_per_round": per_round,
        "speedup": speedup,
        "fraction_of_ceiling": speedup / ceiling,
        "loss_check": loss,
        "table": table,
        "runs": runs,
        "wall_s": time.perf_counter() - start,
    }
    print()
    print(
        f"{'variant':14s} {'real tok/s':>10s} {'ratio':>6s} {'pad':>6s} {'steps':>5s} {'tok/batch':>9s} "
        f"{'peak RSS':>9s}"
    )
    for t in table:
        print(
            f"{t['variant']:14s} {t['real_tokens_per_s']:10.0f} {t['ratio']:6.2f} {t['pad_share']:6.3f} "
            f"{t['steps']:5d} {t['mean_batch_tokens']:9.0f} {t['peak_rss_mb']:7.0f} MB"
        )
    print(
        f"\npad share of the padded baseline {pad:.3f} -> ceiling 1/(1-pad) = {ceiling:.2f}x; achieved "
        f"{speedup:.2f}x (per round {', '.join(f'{s:.2f}' for s in per_round)}) = {speedup / ceiling:.2f} of "
        f"the ceiling (target >= 0.80); loss relative difference {loss['relative_difference']:.1e}; "
        f"{record['wall_s']:.0f} s"
    )
    if not args.no_write:
        write_results(record)


if __name__ == "__main__":
    main()
