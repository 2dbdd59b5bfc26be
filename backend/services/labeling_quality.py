"""Quality figures of a campaign (agreement, per-labeler tau and gold accuracy, bias audits) and its export to
training data as ordinary dataset versions (preference pairs, KTO rows, a reward-model train/validation
split)."""

from __future__ import annotations

import hashlib
import json
import random
import statistics
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models.datasets import Dataset, DatasetVersion
from backend.models.labeling import (
    LabelingAssignment,
    LabelingCampaign,
    LabelingExport,
    LabelingItem,
    LabelingLabel,
)
from backend.models.users import User
from backend.schemas.labeling import ExportCreate
from backend.services import datasets, labeling_rm
from backend.services import labeling_math as lm
from backend.services.errors import Conflict, Invalid
from backend.storage import ArtifactStore

WORST_SHOWN = 10


def load_views(session: Session, campaign: LabelingCampaign, kinds=("human",)) -> list[lm.LabelView]:
    """Submitted labels of a campaign as the arithmetic sees them (AI judges named 'ai:<judge>')."""
    rows = session.execute(
        select(LabelingLabel, LabelingAssignment.shown_order)
        .join(LabelingItem, LabelingLabel.item_id == LabelingItem.id)
        .outerjoin(LabelingAssignment, LabelingLabel.assignment_id == LabelingAssignment.id)
        .where(
            LabelingItem.campaign_id == campaign.id,
            LabelingLabel.draft.is_(False),
            LabelingLabel.kind.in_(kinds),
        )
        .order_by(LabelingLabel.id)
    ).all()
    views = []
    for label, shown in rows:
        who = f"ai:{label.judge}" if label.kind == "ai" else str(label.labeler_id)
        views.append(
            lm.LabelView(
                item_id=label.item_id,
                labeler=who,
                shown=list(shown or label.answer.get("shown_order") or []),
                tiers=label.tiers,
                both_bad=label.answer.get("choice") == "both_bad",
                verdicts={int(c): v for c, v in label.verdicts.items()},
            )
        )
    return views


def _by_item(views: list[lm.LabelView]) -> dict[int, list[lm.LabelView]]:
    out: dict[int, list[lm.LabelView]] = defaultdict(list)
    for view in views:
        out[view.item_id].append(view)
    return out


def _agreement_with_others(table: dict, labeler: str) -> tuple[float | None, int]:
    """Share of units where the labeler gave the value most of the others gave (others' ties excluded)."""
    agree = total = 0
    for values in table.values():
        if labeler not in values or len(values) < 2:
            continue
        others = [v for who, v in values.items() if who != labeler]
        counts = sorted(((others.count(v), v) for v in set(others)), reverse=True)
        if len(counts) > 1 and counts[0][0] == counts[1][0]:
            continue
        total += 1
        agree += values[labeler] == counts[0][1]
    return (agree / total if total else None), total


def _per_labeler(session: Session, views, table, gold) -> list[dict]:
    by_item = _by_item(views)
    names = {str(u.id): u.username for u in session.scalars(select(User))}
    out = []
    for labeler in sorted({v.labeler for v in views}):
        mine = [v for v in views if v.labeler == labeler]
        tau, tau_items = lm.labeler_tau(by_item, labeler)
        accuracy, gold_pairs = lm.gold_accuracy(mine, gold)
        agreement, units = _agreement_with_others(table, labeler)
        out.append(
            {
                "labeler": labeler,
                "username": names.get(labeler, labeler),
                "labels": len(mine),
                "agreement_with_others": agreement,
                "units": units,
                "kendall_tau": tau,
                "tau_items": tau_items,
                "gold_accuracy": accuracy,
                "gold_pairs": gold_pairs,
            }
        )
    return out


def _worst_items(table: dict) -> list[dict]:
    per_item: dict[int, dict] = defaultdict(dict)
    for (item, a, b), values in table.items():
        per_item[item][(a, b)] = values
    figures = []
    for item, units in per_item.items():
        agreement = lm.percent_agreement(units)
        if agreement is not None:
            figures.append({"item_id": item, "agreement": agreement})
    return sorted(figures, key=lambda f: f["agreement"])[:WORST_SHOWN]


def _seconds(session: Session, campaign: LabelingCampaign) -> float | None:
    values = session.scalars(
        select(LabelingLabel.seconds)
        .join(LabelingItem, LabelingLabel.item_id == LabelingItem.id)
        .where(
            LabelingItem.campaign_id == campaign.id,
            LabelingLabel.draft.is_(False),
            LabelingLabel.kind == "human",
        )
    ).all()
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def quality(session: Session, campaign: LabelingCampaign) -> dict:
    """Agreement figures over human labels; AI-judge labels apart (and against the human majority)."""
    humans = load_views(session, campaign)
    table = lm.units(humans)
    items = session.scalars(select(LabelingItem).where(LabelingItem.campaign_id == campaign.id)).all()
    gold = {i.id: i.gold for i in items if i.gold}
    lengths = {c.id: len(c.text or "") for i in items for c in i.candidates}
    ai = load_views(session, campaign, kinds=("ai",))
    ai_table = lm.units(ai)
    ai_vs_humans = lm.units(humans + ai)
    judges = sorted({v.labeler for v in ai})
    position, comparisons = lm.position_bias(humans)
    longer, length_comparisons = lm.length_bias(humans, lengths)
    per_labeler = _per_labeler(session, humans, table, gold)
    agreement = lm.percent_agreement(table)
    return {
        "campaign_id": campaign.id,
        "labels": len(humans),
        "labelers": len({v.labeler for v in humans}),
        "percent_agreement": agreement,
        "alpha": lm.alpha(table),
        # reward models trained from this campaign, scored on its held-out labels, against what humans reach
        "reward_models": labeling_rm.reward_models(session, campaign),
        "human_ceiling": agreement,
        "agreement_threshold": campaign.agreement_threshold,
        "per_labeler": per_labeler,
        "worst_items": _worst_items(table),
        "position_bias": {"first_shown_wins": position, "comparisons": comparisons},
        "length_bias": {"longer_wins": longer, "comparisons": length_comparisons},
        "median_seconds": _seconds(session, campaign),
        "ai": {
            "labels": len(ai),
            "judges": judges,
            "percent_agreement": lm.percent_agreement(ai_table),
            "agreement_with_humans": {j: _agreement_with_others(ai_vs_humans, j)[0] for j in judges},
        },
    }


# ---- export ----------------------------------------------------------------------------------------


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def _pair_rows(items: list[LabelingItem], by_item: dict) -> tuple[list[tuple[int, dict]], int]:
    rows, dropped = [], 0
    for item in items:
        texts = {c.id: c.text or "" for c in item.candidates}
        for chosen, rejected, share in lm.preferred_pairs(by_item.get(item.id, [])):
            if not texts[chosen].strip() or not texts[rejected].strip() or texts[chosen] == texts[rejected]:
                dropped += 1  # the preference format refuses empty or identical responses
                continue
            row = {
                "prompt": item.prompt,
                "chosen": _assistant(texts[chosen]),
                "rejected": _assistant(texts[rejected]),
            }
            rows.append((item.id, {**row, "confidence": round(share, 4), "item_id": item.id}))
    return rows, dropped


def _kto_rows(items: list[LabelingItem], by_item: dict) -> tuple[list[tuple[int, dict]], int]:
    rows, dropped = [], 0
    for item in items:
        texts = {c.id: c.text or "" for c in item.candidates}
        for candidate, (good, share) in lm.verdict_consensus(by_item.get(item.id, [])).items():
            if not texts[candidate].strip():
                dropped += 1
                continue
            row = {"prompt": item.prompt, "completion": _assistant(texts[candidate]), "label": good}
            rows.append((item.id, {**row, "confidence": round(share, 4), "item_id": item.id}))
    return rows, dropped


def _check_threshold(session: Session, campaign: LabelingCampaign, body: ExportCreate) -> dict:
    figures = quality(session, campaign)
    threshold, agreement = campaign.agreement_threshold, figures["percent_agreement"]
    if threshold is not None and not body.confirm and (agreement is None or agreement < threshold):
        low = [p for p in figures["per_labeler"] if (p["agreement_with_others"] or 0.0) < threshold]
        raise Conflict(
            f"agreement {agreement if agreement is None else round(agreement, 3)} is below the campaign's "
            f"threshold {threshold}: review the items and labelers named in details, "
            "or export with confirm=true",
            code="low_agreement",
            details={
                "agreement": agreement,
                "threshold": threshold,
                "items": [i["item_id"] for i in figures["worst_items"] if i["agreement"] < threshold],
                "labelers": [{"labeler": p["labeler"], "username": p["username"]} for p in low],
            },
        )
    return figures


def _write(store: ArtifactStore, rows: list[dict]):
    path = store.new_temp(".jsonl")
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def _split(rows: list[tuple[int, dict]], fraction: float, seed: int) -> dict[str, list[dict]]:
    items = sorted({i for i, _ in rows})
    random.Random(seed).shuffle(items)
    held = set(items[: max(1, round(len(items) * fraction))]) if len(items) > 1 else set()
    return {
        "train": [r for i, r in rows if i not in held],
        "validation": [r for i, r in rows if i in held],
    }


def export(
    session: Session, store: ArtifactStore, campaign: LabelingCampaign, body: ExportCreate, user: User
) -> list[DatasetVersion]:
    """Write the campaign's majority labels as a new dataset (a preference or unpaired_preference version
    naming the campaign and the source version as its parent)."""
    figures = _check_threshold(session, campaign, body)
    name = (body.name or f"{campaign.name}-{body.kind}").strip()
    check_name_free(session, name)
    kinds = ("human", "ai") if body.include_ai else ("human",)
    by_item = _by_item(load_views(session, campaign, kinds=kinds))
    items = list(session.scalars(select(LabelingItem).where(LabelingItem.campaign_id == campaign.id)))
    rows, dropped = (_kto_rows if body.kind == "kto" else _pair_rows)(items, by_item)
    if not rows:
        raise Invalid(
            f"campaign {campaign.id} has no {'verdicts' if body.kind == 'kto' else 'preferred pairs'} to "
            "export yet (ties, both-bad and even splits give none)",
            details={"field": "kind", "value": body.kind},
        )
    fmt = "unpaired_preference" if body.kind == "kto" else "preference"
    parts = (
        _split(rows, body.validation_fraction, body.seed)
        if body.kind == "reward"
        else {None: [r for _, r in rows]}
    )
    parent = session.get(DatasetVersion, campaign.source_version_id) if campaign.source_version_id else None
    operation = {"op": "labeling_export", "campaign_id": campaign.id, "kind": body.kind}
    operation |= {"include_ai": body.include_ai}
    stats = {"dropped_empty_or_identical": dropped, "agreement": figures["percent_agreement"]}
    return store_export(
        session,
        store,
        user,
        name=name,
        description=f"Exported from labeling campaign {campaign.name}",
        parts=parts,
        fmt=fmt,
        operation=operation,
        stats=stats | {"alpha": figures["alpha"]},
        parent=parent,
        lineage=lambda version: LabelingExport(
            campaign_id=campaign.id, version_id=version.id, kind=body.kind
        ),
    )


def check_name_free(session: Session, name: str) -> None:
    if session.scalar(select(Dataset).where(Dataset.name == name)):
        raise Conflict(
            f"a dataset named '{name}' already exists; choose another name", details={"field": "name"}
        )


def store_export(
    session: Session,
    store: ArtifactStore,
    user: User,
    *,
    name: str,
    description: str,
    parts: dict[str | None, list[dict]],
    fmt: str,
    operation: dict,
    stats: dict,
    parent: DatasetVersion | None = None,
    lineage: Callable[[DatasetVersion], Any] | None = None,
) -> list[DatasetVersion]:
    """Store exported rows as a new dataset, one version per split (through datasets.add_version), and
    commit; on any failure nothing is kept (no rows, no files)."""
    check_name_free(session, name)
    dataset = Dataset(name=name, description=description, owner_id=user.id)
    session.add(dataset)
    created = []
    try:
        session.flush()
        for split, part in parts.items():
            if not part:
                continue
            path, digest = _write(store, part)
            version = datasets.add_version(
                session,
                store,
                dataset,
                path,
                {"format": fmt, "row_count": len(part), "sha256": digest},
                operation={**operation, "stats": {"rows": len(part), **stats}},
                parent=parent,
                split=split,
                fmt=fmt,
            )
            created.append(version)
            if lineage is not None:
                session.add(lineage(version))
        session.commit()
    except Exception:
        session.rollback()
        for version in created:
            store.delete(version.path)
        raise
    return created


def exports(session: Session, campaign: LabelingCampaign) -> list[LabelingExport]:
    return list(session.scalars(select(LabelingExport).where(LabelingExport.campaign_id == campaign.id)))
