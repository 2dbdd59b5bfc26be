"""The data-generation side of a job's child process: read the source rows and generator a stored run names,
generate chunk by chunk (worker.datagen, pure ML), and store the result as new dataset versions.

Every finished chunk is appended to a ledger (JSONL in the job folder) before the next starts, so a paused,
cancelled-then-resumed or crashed run keeps what it generated and carries on from the next chunk.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from backend import ingest
from backend.config import Settings
from backend.db import session_scope
from backend.models.jobs import Job
from backend.schemas.datagen import DatagenCreate
from backend.services import datagen, datasets, registry
from backend.storage import ArtifactStore
from worker.datagen.constitutional import (
    CRITIQUE_REQUEST,
    REVISION_REQUEST,
    constitutional_chunk,
    prompt_messages,
    rows_from_items,
)
from worker.datagen.generators import StudioModelGenerator
from worker.datagen.self_instruct import PROMPT_INTRO, TaskFilter, seed_tasks, self_instruct_chunk
from worker.device import detect_device
from worker.evaluation.generation import GenerationParams
from worker.jobs.dataset_files import checked_version_file
from worker.progress import DatabaseReporter

LEDGER = "datagen.jsonl"


class NothingGenerated(Exception):
    """No generated row passed the filters: there is no dataset to store."""


class Ledger:
    """Chunk records appended one JSON line each, flushed to disk before the next chunk starts."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut short by a kill: that chunk is generated again
        return records

    def append(self, record: dict) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def _generator(session, settings: Settings, data: DatagenCreate) -> StudioModelGenerator:
    model = registry.get_model(session, data.generator.model_id)
    base = registry.model_path(settings, registry.root_model(session, model)) if model.is_adapter else None
    return StudioModelGenerator(
        str(registry.model_path(settings, model)),
        base_path=str(base) if base else None,
        params=GenerationParams(**data.generation.model_dump()),
        batch_size=data.batch_size,
        chat_template=data.chat_template,
        device=detect_device(settings.worker_device)["device"],
        name=model.name,
    )


def _write_jsonl(store: ArtifactStore, rows: list[dict]) -> Path:
    path = store.new_temp(".jsonl")
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _dedup(store: ArtifactStore, rows_file: Path, threshold: float, dropped: Counter) -> Path:
    """The dataset cleaning steps (exact, then near duplicates) over the kept rows; counts what they drop."""
    exact, near = store.new_temp(".jsonl"), store.new_temp(".jsonl")
    dropped["exact_duplicate_row"] += ingest.dedup_exact(rows_file, exact).removed
    dropped["near_duplicate"] += ingest.dedup_near(exact, near, threshold).removed
    exact.unlink(missing_ok=True)
    return near


def _run_self_instruct(ctx: dict, data: DatagenCreate, reporter, ledger: Ledger) -> dict | None:
    p = data.self_instruct
    if data.preview:
        p = p.model_copy(update={"num_tasks": data.preview_rows, "max_requests": min(p.max_requests, 16)})
    seeds = seed_tasks(ctx["rows"])
    state, requests, samples = TaskFilter(seeds, p), 0, []
    records = ledger.read()
    for record in records:
        state.replay(record)
        requests += record["requests"]
    chunk = len(records)
    while len(state.kept) < p.num_tasks and requests < p.max_requests:
        if reporter.should_stop():
            return None
        n, before = min(data.batch_size, p.max_requests - requests), ctx["generator"].tokens
        record = self_instruct_chunk(
            ctx["generator"], seeds, state, p, chunk=chunk, requests=n, seed=data.seed
        )
        record["tokens"] = ctx["generator"].tokens - before
        ledger.append(record)
        samples += record["samples"]
        requests, chunk = requests + n, chunk + 1
        reporter.set_progress(requests, p.max_requests)
        reporter.log_metrics(requests, {"kept": len(state.kept), "dropped": sum(state.dropped.values())})
    counts = {"seeds": len(seeds), "requests": requests, "kept": len(state.kept)}
    if data.preview:
        return {"preview": [t.as_row() for t in state.kept], "samples": samples[:5], "counts": counts}
    rows = [t.as_row() for t in state.kept]
    return _finish(ctx, data, [("", "instruction", rows)], state.dropped, counts, p.near_duplicate_threshold)


def _run_constitutional(ctx: dict, data: DatagenCreate, reporter, ledger: Ledger) -> dict | None:
    p = data.constitutional
    limit = data.preview_rows if data.preview else p.max_prompts
    prompts = [m for m in (prompt_messages(r) for r in ctx["rows"][:limit]) if m]
    records = ledger.read()
    items = [item for record in records for item in record["items"]]
    chunk = len(records)
    while len(items) < len(prompts):
        if reporter.should_stop():
            return None
        batch, before = prompts[len(items) : len(items) + data.batch_size], ctx["generator"].tokens
        record = constitutional_chunk(
            ctx["generator"], batch, p, chunk=chunk, start=len(items), seed=data.seed
        )
        record["tokens"] = ctx["generator"].tokens - before
        ledger.append(record)
        items += record["items"]
        chunk += 1
        reporter.set_progress(len(items), len(prompts))
    if data.preview:
        return {"preview": items, "counts": {"prompts": len(prompts)}}
    sft, pairs, dropped = rows_from_items(items)
    counts = {"prompts": len(prompts), "sft_rows": len(sft), "pairs": len(pairs)}
    parts = [("-sft", "chat", sft), ("-pairs", "preference", pairs)]
    return _finish(ctx, data, parts, dropped, counts, None)


def _finish(ctx, data: DatagenCreate, parts, dropped: Counter, counts: dict, near: float | None) -> dict:
    store, settings, job_id = ctx["store"], ctx["settings"], ctx["job_id"]
    outputs, temps = [], []
    try:
        for suffix, fmt, rows in parts:
            if not rows:
                continue
            path = _write_jsonl(store, rows)
            temps.append(path)
            if near is not None:
                path = _dedup(store, path, near, dropped)
                temps.append(path)
            outputs.append(datagen.Output(suffix, fmt, path, {"rows": ingest.count_rows(path)}))
        dropped = Counter({k: v for k, v in dropped.items() if v})
        if not outputs or not any(o.stats["rows"] for o in outputs):
            raise NothingGenerated(
                f"no generated row passed the filters ({json.dumps(counts)}; dropped: "
                f"{json.dumps(dropped)}): nothing was stored. Try a larger generator, more requests, or "
                "looser filters"
            )
        lineage = {
            "generator": {**data.generator.model_dump(), "name": ctx["generator"].name},
            "prompt": ctx["prompt"],
            "params": data.model_dump(mode="json", include={"self_instruct", "constitutional", "generation"}),
            "seed": data.seed,
        }
        lineage["params"].pop("constitutional" if data.kind == "self_instruct" else "self_instruct")
        with session_scope(settings.database_url) as session:
            version_ids = datagen.store_outputs(session, store, job_id, outputs, lineage)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)
    return {"counts": counts, "dropped": dict(dropped), "dataset_version_ids": version_ids}


def run_datagen_job(job_id: int, settings: Settings, store: ArtifactStore) -> dict | None:
    """Run the generation stored on job `job_id`; returns the job result, or None when paused."""
    reporter = DatabaseReporter(settings, job_id)
    with session_scope(settings.database_url) as session:
        data = DatagenCreate.model_validate(session.get(Job, job_id).spec)
        checked_version_file(session, store, data.source_version_id)  # the rows validated at upload
        version = datasets.get_version(session, data.source_version_id)
        rows = datasets.read_rows(store, version, 0, version.row_count)
        generator = _generator(session, settings, data)
    ledger = Ledger(store.path(store.job_dir(job_id)) / LEDGER)
    done = ledger.read()
    if done:
        reporter.log_event(f"Resuming: the {len(done)} chunk(s) generated before are kept")
    if data.kind == "self_instruct":
        prompt = {"intro": PROMPT_INTRO}
    else:
        prompt = {"critique": CRITIQUE_REQUEST, "revision": REVISION_REQUEST}
    ctx = {"store": store, "settings": settings, "job_id": job_id, "rows": rows, "generator": generator}
    ctx["prompt"] = prompt
    reporter.log_event(f"Generating ({data.kind}{', preview' if data.preview else ''}) with {generator.name}")
    run = _run_self_instruct if data.kind == "self_instruct" else _run_constitutional
    try:
        result = run(ctx, data, reporter, ledger)
    finally:
        reporter.flush()
    if result is not None:
        result["tokens"] = sum(r.get("tokens", 0) for r in ledger.read())  # over every attempt
        stored = result.get("dataset_version_ids")
        reporter.log_event(f"Stored dataset version(s) {stored}" if stored else "Preview ready")
    return result
