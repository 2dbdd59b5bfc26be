"""Quality check: LoRA SFT of the bundled SmolLM2-135M on DialogSum, through the REST API, improves ROUGE-L.

    python -m bench.dialogsum_rouge --train-rows 300 --eval-rows 40 --max-steps 150 [--data-dir DIR]

Starts a private studio (API + workers on embedded defaults) in a temporary AFINA_HOME, uploads DialogSum
with a column mapping, holds out the last rows, trains, then generates a summary for each held-out dialogue
with the base model and with the adapter (greedy, same settings) and scores both against the references
with ROUGE-L.
Writes bench/results/dialogsum_rouge.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import psutil
from rouge_score import rouge_scorer

from bench.data import add_data_dir_argument, data_file
from tests.stack import make_studio
from worker.model_store import prepare_bundled_model

ROOT = Path(__file__).resolve().parent.parent
DIALOGSUM = "dialogsum/dialogsum.dev.jsonl"  # under --data-dir (bench/data.py says where to get it)
INSTRUCTION = "Summarize the following conversation."


def report(r: dict) -> str:
    return f"""# DialogSum: LoRA SFT of SmolLM2-135M-Instruct through the REST API

`{r["command"]}` (from the repository root, after `make install`).

The bundled SmolLM2-135M-Instruct was fine-tuned with LoRA (r 16, alpha 32, lr 5e-4 cosine, batch 4, max
length {r["max_length"]}, {r["max_steps"]} steps) on the first {r["train_rows"]} DialogSum dev dialogues,
uploaded through `POST /api/datasets` with the column mapping `{{"input": "dialogue", "output": "summary"}}`
and the constant instruction "{INSTRUCTION}". The last {r["eval_rows"]} dialogues were held out; each was
answered by the base model and by the adapter through `POST /api/generations` (greedy, 64 new tokens, the
model's own chat template) and scored against the reference summary with ROUGE-L (rouge-score, stemmed F1).

| | ROUGE-L |
| --- | ---: |
| base SmolLM2-135M-Instruct | {r["rougeL_base"]:.4f} |
| + LoRA SFT ({r["max_steps"]} steps) | {r["rougeL_tuned"]:.4f} |
| ratio | {r["ratio"]:.2f}x |

The tuned model scored higher on {r["tuned_better_on"]} held-out dialogues. Training loss went from
{r["loss_first"]:.3f} to {r["loss_last"]:.3f} in {r["train_seconds"]} s ({r["machine"]}; the machine was
shared with other CPU work during the run).
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train-rows", type=int, default=300)
    parser.add_argument("--eval-rows", type=int, default=40)
    parser.add_argument("--max-steps", type=int, default=150)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=ROOT / ".afina" / "models",
        help="Where the converted bundled model is kept (reused across runs).",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave bench/results alone (quick runs)"
    )
    add_data_dir_argument(parser)
    args = parser.parse_args()

    rows = [json.loads(line) for line in data_file(args.data_dir, DIALOGSUM).open()]
    train, held_out = rows[: args.train_rows], rows[-args.eval_rows :]
    home = Path(tempfile.mkdtemp(prefix="afina-bench-"))
    studio = make_studio(home)
    smol = prepare_bundled_model(args.models_dir)
    client = None
    try:
        studio.start_api()
        studio.start_worker("train")
        studio.start_worker("infer")
        client = studio.client()
        model_id = client.post(
            "/api/models", json={"name": "SmolLM2-135M-Instruct", "path": str(smol)}
        ).json()["id"]
        upload = home / "dialogsum-train.jsonl"
        upload.write_text("".join(json.dumps(r) + "\n" for r in train))
        with upload.open("rb") as fh:
            dataset = client.post(
                "/api/datasets",
                files={"file": ("dialogsum-train.jsonl", fh)},
                data={
                    "name": "dialogsum-train",
                    "mapping": json.dumps({"input": "dialogue", "output": "summary"}),
                    "options": json.dumps({"templates": {"instruction": INSTRUCTION}}),
                },
            ).json()
        spec = {
            "method": "sft",
            "adapter": {"type": "lora", "r": 16, "alpha": 32, "dropout": 0.05},
            "training": {
                "learning_rate": 5e-4,
                "max_steps": args.max_steps,
                "batch_size": 4,
                "max_length": args.max_length,
                "save_steps": 50,
                "lr_scheduler": "cosine",
            },
        }
        started = time.monotonic()
        job = client.post(
            "/api/jobs",
            json={
                "base_model_id": model_id,
                "spec": spec,
                "datasets": [{"version_id": dataset["versions"][0]["id"]}],
            },
        ).json()
        while (state := client.get(f"/api/jobs/{job['id']}").json())["status"] not in (
            "succeeded",
            "failed",
            "cancelled",
        ):
            print(
                f"\rtraining: step {state['current_step']}/{state['total_steps'] or '?'}", end="", flush=True
            )
            time.sleep(5)
        print()
        if state["status"] != "succeeded":
            raise SystemExit(f"training {state['status']}: {state['error']}")
        train_seconds = time.monotonic() - started
        losses = [v for _, v in state["metrics"]["loss"]]

        scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
        scores = {"base": [], "tuned": []}
        for i, row in enumerate(held_out, 1):
            answer = client.post(
                "/api/generations",
                params={"wait": 600},
                json={
                    "model_ids": [model_id, state["output_model_id"]],
                    "prompt": f"{INSTRUCTION}\n\n{row['dialogue']}",
                    "max_new_tokens": 64,
                    "do_sample": False,
                },
            ).json()
            for key, output in zip(("base", "tuned"), answer["result"]["outputs"], strict=True):
                scores[key].append(scorer.score(row["summary"], output["text"])["rougeL"].fmeasure)
            print(f"\revaluating {i}/{len(held_out)}", end="", flush=True)
        print()
        base, tuned = (sum(v) / len(v) for v in (scores["base"], scores["tuned"]))
        wins = sum(t > b for t, b in zip(scores["tuned"], scores["base"], strict=True))
        result = {
            "rougeL_base": round(base, 4),
            "rougeL_tuned": round(tuned, 4),
            "ratio": round(tuned / base, 3),
            "tuned_better_on": f"{wins}/{len(held_out)}",
            "train_rows": len(train),
            "eval_rows": len(held_out),
            "max_steps": args.max_steps,
            "max_length": args.max_length,
            "train_seconds": round(train_seconds),
            "loss_first": round(losses[0], 4),
            "loss_last": round(losses[-1], 4),
            "spec": spec,
            "machine": f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, "
            f"{psutil.virtual_memory().total // 2**30} GiB, no GPU",
            "command": f"python -m bench.dialogsum_rouge --train-rows {args.train_rows} --eval-rows "
            f"{args.eval_rows} --max-steps {args.max_steps} --max-length {args.max_length}",
        }
        if not args.no_write:
            out = ROOT / "bench" / "results"
            out.mkdir(parents=True, exist_ok=True)
            (out / "dialogsum_rouge.json").write_text(json.dumps(result, indent=2) + "\n")
            (out / "dialogsum_rouge.md").write_text(report(result))
        print(json.dumps(result, indent=2))
    finally:
        studio.stop()


if __name__ == "__main__":
    main()
