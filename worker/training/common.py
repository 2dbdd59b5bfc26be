"""What every method shares: the request, TrainingSpec -> trainer arguments, and the one run of a TRL trainer.

`run_recipe` is the sequence every TRL-based method follows (load the model, split the rows, build examples,
callbacks and the trainer, fit, save); a method's `Recipe` says only what differs. PPO runs its own loop
(ppo.py) on the same request, resume and record.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from datasets import Dataset
from transformers import EarlyStoppingCallback, PrinterCallback

from backend.schemas.job_specs import MethodSpec, parse_job_spec
from worker.training.flops import flops_per_token, mean_sequence_length
from worker.training.models import LoadedModel, load_for_training
from worker.training.reporting import NullReporter, Reporter, ReporterCallback, clean_logs
from worker.training.rows import as_dataset, split_rows

#: batch_size "auto" starts here and halves on out-of-memory (accelerate's find_executable_batch_size via the
#: Trainer's auto_find_batch_size). On CPU nothing raises OOM, so the start is modest there.
AUTO_BATCH_START = {"cuda": 32, "cpu": 8}
FINAL_DIR, CHECKPOINT_DIR, RECORD_FILE = "final", "checkpoints", "afina_training.json"


@dataclass
class TrainRequest:
    """Everything one training run needs; the caller (worker.jobs) resolves ids to local paths.

    The spec may be given as its stored JSON and the rows as lists of dicts (scripts, tests): on construction
    the spec becomes the method's typed spec and the rows a `datasets.Dataset`.
    """

    method: str
    spec: MethodSpec
    model_path: str
    train_rows: Dataset
    output_dir: str
    eval_rows: Dataset | None = None
    resume_from_checkpoint: str | None = None  # a checkpoint folder, or "latest" in output_dir/checkpoints
    reward_model_paths: dict[int, str] = field(default_factory=dict)  # reward_model_job_id -> model folder
    classifier_paths: dict[int, str] = field(default_factory=dict)  # classifier_model_id -> model folder
    #: measured peak matmul FLOP/s of the device by precision (worker.device.device_peak), for MFU
    peak_flops: dict[str, float] | None = None
    reporter: Reporter = field(default_factory=NullReporter)

    def __post_init__(self) -> None:
        self.spec = parse_job_spec(self.method, self.spec)
        self.train_rows = as_dataset(self.train_rows)
        self.eval_rows = None if self.eval_rows is None else as_dataset(self.eval_rows)


@dataclass
class TrainResult:
    status: str  # "completed", "paused" (checkpoint written, resumable) or "cancelled"
    output_dir: Path
    final_dir: Path | None  # adapter or full model + tokenizer + afina_training.json; None unless completed
    is_adapter: bool
    total_steps: int  # optimizer steps taken, including those before a resume
    metrics: dict[str, float]
    checkpoint_dir: Path | None = None  # the latest checkpoint, for a paused run


def training_kwargs(
    spec: MethodSpec, output_dir: str | Path, *, precision: str, has_eval: bool
) -> dict[str, Any]:
    """TrainingSpec as keyword arguments shared by every TRL config (each method adds its own)."""
    t = spec.training
    auto_batch = t.batch_size == "auto"
    batch = AUTO_BATCH_START["cuda" if torch.cuda.is_available() else "cpu"] if auto_batch else t.batch_size
    kwargs = {
        "output_dir": str(Path(output_dir) / CHECKPOINT_DIR),
        "learning_rate": t.learning_rate,
        "num_train_epochs": t.num_epochs,
        "max_steps": t.max_steps or -1,  # -1: the Trainer's "no limit", num_train_epochs decides
        "per_device_train_batch_size": batch,
        "per_device_eval_batch_size": batch,
        "auto_find_batch_size": auto_batch,
        "gradient_accumulation_steps": t.gradient_accumulation_steps,
        "gradient_checkpointing": t.gradient_checkpointing,
        # non-reentrant checkpointing works with frozen embeddings (adapters) without extra hooks
        "gradient_checkpointing_kwargs": {"use_reentrant": False} if t.gradient_checkpointing else None,
        # bf16 on CPU is autocast through accelerate, which transformers allows only with use_cpu
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        "use_cpu": not torch.cuda.is_available(),
        "warmup_steps": t.warmup_ratio,  # a value below 1 is a share of the steps
        "lr_scheduler_type": t.lr_scheduler,
        "weight_decay": t.weight_decay,
        "max_grad_norm": t.max_grad_norm,
        "seed": t.seed,
        "data_seed": t.seed,
        "save_strategy": "steps",
        "save_steps": t.save_steps,
        "save_total_limit": t.save_total_limit,
        "logging_steps": t.logging_steps,
        "report_to": "none",
        "disable_tqdm": True,
        "include_num_input_tokens_seen": "non_padding",
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": torch.cuda.is_available(),
    }
    if spec.adapter.type == "qlora":
        kwargs["optim"] = "paged_adamw_8bit"  # optimizer states paged to CPU on memory spikes
    # Liger's fused Triton kernels (RMSNorm, RoPE, SwiGLU, fused linear cross-entropy) cut memory and time on
    # CUDA; they need Triton and a GPU, so they are used only where both exist (pip install afina[gpu]).
    kwargs["use_liger_kernel"] = (
        torch.cuda.is_available() and importlib.util.find_spec("liger_kernel") is not None
    )
    if has_eval:
        kwargs.update(
            eval_strategy="steps" if t.eval_steps else "epoch",
            eval_steps=t.eval_steps,
            metric_for_best_model="eval_loss",
            greater_is_better=False,
        )
    return kwargs


def callbacks(spec: MethodSpec, reporter: Reporter, has_eval: bool) -> tuple[ReporterCallback, list]:
    progress = ReporterCallback(reporter)
    patience = spec.training.early_stopping_patience
    extra = [EarlyStoppingCallback(early_stopping_patience=patience)] if has_eval and patience else []
    return progress, [progress, *extra]


def resolve_resume(req: TrainRequest) -> str | None:
    if req.resume_from_checkpoint != "latest":
        return req.resume_from_checkpoint
    last = last_complete_checkpoint(Path(req.output_dir) / CHECKPOINT_DIR)
    if last is None:
        req.reporter.log_event("no checkpoint to resume from; starting from the beginning", "warning")
    return last


#: the file each kind of checkpoint writes last: the Trainer's state, or PPO's own (worker/training/ppo.py)
CHECKPOINT_WRITTEN_LAST = ("trainer_state.json", "ppo_state.pt")


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint whose last file was written (after the weights, optimizer and RNG state): a
    process killed while saving leaves a newer folder that cannot be resumed."""
    steps = {}
    for path in folder.glob("checkpoint-*") if folder.is_dir() else ():
        step = path.name.rsplit("-", 1)[-1]
        if step.isdigit() and any((path / name).is_file() for name in CHECKPOINT_WRITTEN_LAST):
            steps[int(step)] = path
    return str(steps[max(steps)]) if steps else None


def final_metrics(log_history: list[dict]) -> dict[str, float]:
    """The last value of every metric the run logged."""
    merged: dict[str, Any] = {}
    for entry in log_history:
        merged.update(entry)
    return clean_logs(merged)


def write_record(
    final: Path, req: TrainRequest, *, metrics: dict, steps: int, is_adapter: bool, **extra
) -> None:
    """afina_training.json beside the saved model: what was trained, how, and how it ended."""
    record = {
        "method": req.method,
        "spec": req.spec.model_dump(mode="json"),
        "metrics": metrics,
        "total_steps": steps,
        "is_adapter": is_adapter,
        **extra,
    }
    (final / RECORD_FILE).write_text(json.dumps(record, indent=2, default=str))


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
    metrics = {**final_metrics(trainer.state.log_history), **progress.summary()}
    if progress.stopped:
        last = last_complete_checkpoint(out / CHECKPOINT_DIR)
        status = "paused" if progress.stopped == "pause" else "cancelled"
        return TrainResult(status, out, None, is_adapter, steps, metrics, Path(last) if last else None)
    final = out / FINAL_DIR
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    write_record(final, req, metrics=metrics, steps=steps, is_adapter=is_adapter, **(extra_record or {}))
    req.reporter.set_progress(steps, steps)
    return TrainResult("completed", out, final, is_adapter, steps, metrics)


def watch_throughput(progress: ReporterCallback, req: TrainRequest, loaded: LoadedModel, dataset, max_length):
    """Give the progress callback the model FLOPs per token and the device peak; say both in the events."""
    seq_len = mean_sequence_length(dataset) or max_length
    count = flops_per_token(loaded.model, seq_len)
    peak = (req.peak_flops or {}).get(loaded.precision)
    progress.set_throughput_model(count["flops_per_token"], peak)
    peak_text = f"; device peak {peak / 1e9:.0f} GFLOP/s in {loaded.precision}" if peak else ""
    req.reporter.log_event(
        f"Model FLOPs per token: {count['flops_per_token'] / 1e9:.3f} GFLOP "
        f"({count['matmul_params'] / 1e6:.1f}M matmul weights, {count['trainable_matmul_params'] / 1e6:.2f}M "
        f"trainable, mean sequence {seq_len:.0f} tokens){peak_text}"
    )


class Recipe:
    """What one TRL-based method adds to `run_recipe`: its config and trainer classes, and where it differs.

    The hooks' defaults fit most methods; a recipe overrides `examples` (rows -> what its trainer reads) and
    whichever others it needs.
    """

    config_cls: ClassVar[type]
    trainer_cls: ClassVar[type]
    task: ClassVar[str] = "causal_lm"  # or "seq_cls" (a scalar head, for reward models)

    def __init__(self, req: TrainRequest) -> None:
        self.req, self.spec = req, req.spec

    def prepare(self, loaded: LoadedModel) -> None:
        """Adjust the loaded model or tokenizer before the examples are built."""

    def examples(self, rows: Dataset, loaded: LoadedModel) -> Dataset:
        raise NotImplementedError

    def config_args(self, shared: dict[str, Any], loaded: LoadedModel) -> dict[str, Any]:
        """Keyword arguments of config_cls: the shared ones (training_kwargs) and the method's own."""
        return {**shared, "max_length": self.spec.training.max_length}

    def trainer_args(self, loaded: LoadedModel) -> dict[str, Any]:
        """Keyword arguments trainer_cls takes beyond model, args, tokenizer, datasets and callbacks."""
        return {}

    def built(self, loaded: LoadedModel) -> None:
        """Called once the trainer exists, before it trains."""

    def record(self, loaded: LoadedModel) -> dict[str, Any]:
        """What afina_training.json says beyond the shared fields."""
        return {}


def run_recipe(recipe: Recipe) -> TrainResult:
    """Load the model, split the rows, build examples and the trainer, train, save: once for every method."""
    req, spec = recipe.req, recipe.spec
    loaded = load_for_training(req.model_path, spec, task=recipe.task)
    recipe.prepare(loaded)
    train_rows, eval_rows = split_rows(
        req.train_rows, req.eval_rows, spec.training.validation_split, spec.training.seed
    )
    train_ds = recipe.examples(train_rows, loaded)
    eval_ds = recipe.examples(eval_rows, loaded) if eval_rows is not None else None
    has_eval = eval_ds is not None
    progress, cbs = callbacks(spec, req.reporter, has_eval)
    shared = training_kwargs(spec, req.output_dir, precision=loaded.precision, has_eval=has_eval)
    trainer = recipe.trainer_cls(
        model=loaded.model,
        args=recipe.config_cls(**recipe.config_args(shared, loaded)),
        processing_class=loaded.tokenizer,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        callbacks=cbs,
        **recipe.trainer_args(loaded),
    )
    recipe.built(loaded)
    req.reporter.log_event(loaded.precision_reason)
    watch_throughput(progress, req, loaded, train_ds, spec.training.max_length)
    return fit(
        trainer,
        req,
        progress,
        tokenizer=loaded.tokenizer,
        is_adapter=loaded.adapter != "none",
        extra_record={"base_model": loaded.weights_path, "adapter": loaded.adapter, **recipe.record(loaded)},
    )
