"""Benchmark evaluation-time generation, each comparison side by side in one command:

1. mixed: the base model and K adapters answering the same prompts in ONE mixed batch (PEFT's per-row
   adapter_names), against K + 1 separate batched generate calls (one per model, adapters switched);
2. batched: Afina's evaluation generation (length-sorted, left-padded batches) against a plain
   `model.generate` loop over the same rows, checking that the greedy answers are identical.

    python -m bench.bench_eval --prompts 64 --adapters 4 --max-new-tokens 32 --rows 48

Each variant runs in its own subprocess, so its peak RSS is its own. The model is the bundled SmolLM2-135M-
Instruct (converted once into .afina/models); `--hidden/--layers` build a random Llama of another size instead
(for GPU machines: `--device cuda --hidden 2048 --layers 16`). Prompts are DialogSum-shaped dialogues built
here, or the real DialogSum dev set with `--dialogsum PATH` (default ../shared/data/dialogsum when it exists).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_sft import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DIALOGSUM = ROOT.parent / "shared" / "data" / "dialogsum" / "dialogsum.dev.jsonl"


def dialogues(n: int, path: Path | None) -> list[str]:
    if path and path.is_file():
        with path.open() as fh:
            rows = [json.loads(line)["dialogue"] for _, line in zip(range(n), fh, strict=False)]
        return rows
    people = ("#Person1#", "#Person2#")
    return [
        "\n".join(
            f"{people[t % 2]}: "
            + " ".join(["we", "should", "meet", "about", "the", "plan"][: 2 + (i + t) % 5])
            for t in range(2 + i % 7)
        )
        for i in range(n)
    ]


def model_folder(args) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from worker.model_store import BUNDLED_NAME, prepare_bundled_model

    models = ROOT / ".afina" / "models"
    bundled = prepare_bundled_model(models) if not args.hidden else None
    if bundled:
        return bundled
    from worker.training.tiny import build_tokenizer

    dest = Path(tempfile.mkdtemp()) / "random-llama"
    tok = build_tokenizer(vocab_size=2000)
    config = LlamaConfig(
        hidden_size=args.hidden or 576,
        intermediate_size=(args.hidden or 576) * 8 // 3,
        num_hidden_layers=args.layers,
        num_attention_heads=9,
        num_key_value_heads=3,
        vocab_size=len(tok),
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(dest)
    tok.save_pretrained(dest)
    print(f"{BUNDLED_NAME} not available: a random Llama at {dest}", file=sys.stderr)
    return dest


def make_adapters(model_dir: Path, k: int, dest: Path) -> list[str]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    paths = []
    for i in range(k):
        torch.manual_seed(100 + i)
        base = AutoModelForCausalLM.from_pretrained(model_dir)
        config = LoraConfig(
            r=16,
            lora_alpha=32,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
            init_lora_weights=False,
        )
        get_peft_model(base, config).save_pretrained(dest / f"a{i}")
        paths.append(str(dest / f"a{i}"))
    return paths


# ------------------------------------------------------------------------------------------- child: a run


def _prompts(tokenizer, texts: list[str]) -> list[str]:
    return [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": f"Summarize the dialogue.\n{t}"}],
            tokenize=False,
            add_generation_prompt=True,
        )
        for t in texts
    ]


def child(kind: str, spec: dict) -> dict:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from worker.evaluation.generation import BASE_ADAPTER, GenerationParams, generate_answers

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(spec["model"])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32).to(spec["device"]).eval()
    params = GenerationParams(max_new_tokens=spec["max_new_tokens"])
    prompts = _prompts(tokenizer, spec["texts"])
    names = []
    for i, path in enumerate(spec.get("adapters", [])):
        if isinstance(model, PeftModel):
            model.load_adapter(path, adapter_name=f"a{i}")
        else:
            model = PeftModel.from_pretrained(model, path, adapter_name=f"a{i}")
        names.append(f"a{i}")
    start = time.perf_counter()
    if kind == "mixed":
        every = [BASE_ADAPTER, *names]
        answers = generate_answers(
            model,
            tokenizer,
            prompts * len(every),
            params,
            batch_size=len(prompts) * len(every),
            adapter_names=[n for n in every for _ in prompts],
        )
    elif kind == "separate":
        answers = []
        with model.disable_adapter():
            answers += generate_answers(model, tokenizer, prompts, params, batch_size=len(prompts))
        for name in names:
            model.set_adapter(name)
            answers += generate_answers(model, tokenizer, prompts, params, batch_size=len(prompts))
    elif kind == "batched":
        answers = generate_answers(model, tokenizer, prompts, params, batch_size=spec["batch_size"])
    else:  # plain: what a script does without Afina
        answers = []
        kwargs = params.generate_kwargs(tokenizer)
        for prompt in prompts:
            ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").to(spec["device"])
            out = model.generate(**ids, **kwargs)[0, ids["input_ids"].shape[1] :]
            out = out[out != tokenizer.pad_token_id]
            answers.append(
                {"text": tokenizer.decode(out, skip_special_tokens=True).strip(), "new_tokens": len(out)}
            )
    seconds = time.perf_counter() - start
    tokens = sum(a["new_tokens"] for a in answers)
    return {
        "kind": kind,
        "seconds": seconds,
        "new_tokens": tokens,
        "tokens_per_s": tokens / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "texts": [a["text"] for a in answers],
    }


def run(kind: str, spec: dict) -> dict:
    args = [sys.executable, "-m", "bench.bench_eval", "--child", kind, "--spec", json.dumps(spec)]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the {kind} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _table(rows: list[dict]) -> list[str]:
    lines = ["| variant | new tokens | seconds | tokens/s | peak RSS (MB) |", "|---|---|---|---|---|"]
    for row in rows:
        figures = f"{row['seconds']:.1f} | {row['tokens_per_s']:.1f} | {row['peak_rss_mb']:.0f}"
        lines.append(f"| {row['kind']} | {row['new_tokens']} | {figures} |")
    return lines


def report(args, model: Path, mixed: tuple[dict, dict], batched: tuple[dict, dict]) -> str:
    (mix, sep), (fast, plain) = mixed, batched
    k = args.adapters
    command = (
        f"python -m bench.bench_eval --prompts {args.prompts} --adapters {k} "
        f"--max-new-tokens {args.max_new_tokens} --rows {args.rows} --batch-size {args.batch_size}"
    )
    ratio = mix["tokens_per_s"] / sep["tokens_per_s"]
    speed = plain["seconds"] / fast["seconds"]
    same = sum(a == b for a, b in zip(fast["texts"], plain["texts"], strict=True))
    lines = [
        "# Evaluation generation",
        "",
        f"Machine: {machine()}. Model: {model.name}; greedy, {args.max_new_tokens} new tokens at most.",
        f"Command: `{command}`",
        "",
        f"## Base + {k} adapters, {args.prompts} prompts: one mixed batch vs {k + 1} separate batched calls",
        "",
        *_table([sep, mix]),
        "",
        (
            f"Mixed / separate tokens/s: **{ratio:.2f}x** (target >= {0.8 * (k + 1):.1f}x = 0.8 (K + 1)); "
            f"same answers: {mix['texts'] == sep['texts']}."
        ),
        "",
        f"## Evaluation generation vs a plain `model.generate` loop on {args.rows} rows",
        "",
        *_table([plain, fast]),
        "",
        (
            f"Batched / plain speed: **{speed:.2f}x** (target >= 2x); identical greedy answers on {same} of "
            f"{len(plain['texts'])} rows."
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--adapters", type=int, default=4)
    parser.add_argument("--rows", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--hidden", type=int, default=0, help="Build a random Llama of this width instead.")
    parser.add_argument("--layers", type=int, default=30)
    parser.add_argument("--dialogsum", type=Path, default=DIALOGSUM)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, json.loads(args.spec))))
        return
    model = model_folder(args)
    with tempfile.TemporaryDirectory() as tmp:
        adapters = make_adapters(model, args.adapters, Path(tmp))
        texts = dialogues(max(args.prompts, args.rows), args.dialogsum)
        common = {"model": str(model), "device": args.device, "max_new_tokens": args.max_new_tokens}
        mix_spec = {**common, "adapters": adapters, "texts": texts[: args.prompts]}
        mixed = (run("mixed", mix_spec), run("separate", mix_spec))
        one = {**common, "texts": texts[: args.rows], "batch_size": args.batch_size}
        batched = (run("batched", one), run("plain", one))
    text = report(args, model, mixed, batched)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "eval_generation.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
