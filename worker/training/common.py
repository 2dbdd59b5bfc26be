"""What every method shares: TrainingSpec -> trainer arguments, the validation split, and fit-then-save."""

from __future__ import annotations

import importlib.util
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import EarlyStoppingCallback, PrinterCallback
from transformers.trainer_utils import get_last_checkpoint

from worker.training.reporting import NullReporter, Reporter, ReporterCallback, clean_logs

#: batch_size "auto" starts here and halves on out-of-memory (accelerate's find_executable_batch_size via the
#: Trainer's auto_find_batch_size). On CPU nothing raises OOM, so the start is modest there.
AUTO_BATCH_START = {"cuda": 32, "cpu": 8}
FINAL_DIR, CHECKPOINT_DIR, RECORD_FILE = "final", "checkpoints", "afina_training.json"


@dataclass
class TrainRequest:
    """Everything one training run needs; the caller (worker.jobs) resolves ids to local paths."""

    method: str
    spec: dict  # the method's spec model_dump()
    model_path: str
    train_rows: list[dict]
    output_dir: str
    eval_rows: list[dict] | None = None
    resume_from_checkpoint: str | None = None  # a checkpoint folder, or "latest" in output_dir/checkpoints
    reward_model_paths: dict[int, str] = field(default_factory=dict)  # reward_model_job_id -> model folder
    reporter: Reporter = field(default_factory=NullReporter)


@dataclass
class TrainResult:
    status: str  # "completed", "paused" (checkpoint written, resumable) or "cancelled"
    output_dir: Path
    final_dir: Path | None  # adapter or full model + tokenizer + afina_training.json; None unless completed
    is_adapter: bool
    total_steps: int  # optimizer steps taken, including those before a resume
    metrics: dict[str, float]
    checkpoint_dir: Path | None = None  # the latest checkpoint, for a paused run


def split_rows(train: list[dict], eval_rows: list[dict] | None, share: float, seed: int):
    """Hold out `share` of the training rows for validation when no validation rows were given."""
    if eval_rows or share <= 0 or len(train) < 2:
        return train, eval_rows or None
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    n_eval = max(1, int(len(train) * share))
    held = set(order[:n_eval])
    return [r for i, r in enumerate(train) if i not in held], [train[i] for i in sorted(held)]


def training_kwargs(spec: dict, output_dir: str | Path, *, precision: str, has_eval: bool) -> dict[str, Any]:
    """TrainingSpec as keyword arguments shared by every TRL config (each method adds its own)."""
    t = spec["training"]
    auto_batch = t["batch_size"] == "auto"
    batch = (
        AUTO_BATCH_START["cuda" if torch.cuda.is_available() else "cpu"] if auto_batch else t["batch_size"]
    )
    kwargs = dict(  # noqa: C408 - keyword style matches the TrainingArguments it feeds
        output_dir=str(Path(output_dir) / CHECKPOINT_DIR),
        learning_rate=t["learning_rate"],
        num_train_epochs=t["num_epochs"],
        max_steps=t["max_steps"] or -1,
        per_device_train_batch_size=batch,
        per_device_eval_batch_size=batch,
        auto_find_batch_size=auto_batch,
        gradient_accumulation_steps=t["gradient_accumulation_steps"],
        gradient_checkpointing=t["gradient_checkpointing"],
        # non-reentrant checkpointing works with frozen embeddings (adapters) without extra hooks
        gradient_checkpointing_kwargs={"use_reentrant": False} if t["gradient_checkpointing"] else None,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        warmup_steps=t["warmup_ratio"],
        lr_scheduler_type=t["lr_scheduler"],
        weight_decay=t["weight_decay"],
        max_grad_norm=t["max_grad_norm"],
        seed=t["seed"],
        data_seed=t["seed"],
        save_strategy="steps",
        save_steps=t["save_steps"],
        save_total_limit=t["save_total_limit"],
        logging_steps=t["logging_steps"],
        report_to="none",
        disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    if spec["adapter"]["type"] == "qlora":
        kwargs["optim"] = "paged_adamw_8bit"  # optimizer states paged to CPU on memory spikes
    # Liger's fused Triton kernels (RMSNorm, RoPE, SwiGLU, fused linear cross-entropy) cut memory and time on
    # CUDA; they need Triton and a GPU, so they are used only where both exist (pip install afina[gpu]).
    kwargs["use_liger_kernel"] = (
        torch.cuda.is_available() and importlib.util.find_spec("liger_kernel") is not None
    )
    if has_eval:
        kwargs.update(
            eval_strategy="steps" if t["eval_steps"] else "epoch",
            eval_steps=t["eval_steps"],
            metric_for_best_model="eval_loss",
            greater_is_better=False,
        )
    return kwargs


def callbacks(spec: dict, reporter: Reporter, has_eval: bool) -> tuple[ReporterCallback, list]:
    progress = ReporterCallback(reporter)
    extra = []
    if has_eval and spec["training"]["early_stopping_patience"]:
        extra.append(
            EarlyStoppingCallback(early_stopping_patience=spec["training"]["early_stopping_patience"])
        )
    return progress, [progress, *extra]


def resolve_resume(req: TrainRequest) -> str | None:
    if req.resume_from_checkpoint != "latest":
        return req.resume_from_checkpoint
    folder = Path(req.output_dir) / CHECKPOINT_DIR
    last = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    if last is None:
        req.reporter.log_event("no checkpoint to resume from; starting from the beginning", "warning")
    return last


def final_metrics(log_history: list[dict]) -> dict[str, float]:
    """The last value of every metric the run logged."""
    merged: dict[str, Any] = {}
    for entry in log_history:
        merged.update(entry)
    return clean_logs(merged)


def fit(
    trainer,
    req: TrainRequest,
    progress: ReporterCallback,
    *,
    tokenizer,
    is_adapter: bool,
    extra_record: dict | None = None,
) -> TrainResult:
    """Train (resuming if asked), then save the final model, tokenizer and a record of the run."""
    out = Path(req.output_dir)
    trainer.remove_callback(PrinterCallback)  # metrics go to the reporter, not stdout
    resume = resolve_resume(req)
    if resume:
        req.reporter.log_event(f"resuming from {resume}")
    trainer.train(resume_from_checkpoint=resume)
    steps = trainer.state.global_step
    metrics = final_metrics(trainer.state.log_history)
    if progress.stopped:
        last = get_last_checkpoint(str(out / CHECKPOINT_DIR)) if (out / CHECKPOINT_DIR).is_dir() else None
        status = "paused" if progress.stopped == "pause" else "cancelled"
        return TrainResult(status, out, None, is_adapter, steps, metrics, Path(last) if last else None)
    final = out / FINAL_DIR
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    record = {
        "method": req.method,
        "spec": req.spec,
        "metrics": metrics,
        "total_steps": steps,
        "is_adapter": is_adapter,
        **(extra_record or {}),
    }
    (final / RECORD_FILE).write_text(json.dumps(record, indent=2, default=str))
    req.reporter.set_progress(steps, steps)
    return TrainResult("completed", out, final, is_adapter, steps, metrics)
