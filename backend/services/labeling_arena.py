"""Arena votes as labeling data: each decisive vote (a or b) of a blind battle is a preference pair, exported
through the labeling export path as an ordinary preference dataset version. Ties and both-bad give no pair."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models.arena import ArenaBattle
from backend.models.datasets import DatasetVersion
from backend.models.inference import InferenceRequest, InferenceStatus
from backend.models.users import User
from backend.schemas.labeling import ArenaExportCreate
from backend.services import access, labeling_quality
from backend.services.errors import Invalid
from backend.storage import ArtifactStore

DECISIVE = ("a", "b")


def _answers(session: Session, battle: ArenaBattle) -> tuple[str, str] | None:
    request = session.get(InferenceRequest, battle.request_id)
    outputs = (request.result or {}).get("outputs", []) if request else []
    if request is None or request.status != InferenceStatus.succeeded or len(outputs) < 2:
        return None
    return outputs[0]["text"] or "", outputs[1]["text"] or ""


def arena_pairs(session: Session, user: User | None = None) -> tuple[list[dict], int]:
    """(preference rows of every decisive vote, oldest first; how many votes were dropped because an answer
    was empty or both were the same). A battle's prompt is its voter's: engineers export their own votes,
    admins (and the system, `user=None`) every vote."""
    query = select(ArenaBattle).where(ArenaBattle.vote.in_(DECISIVE)).order_by(ArenaBattle.id)
    if not access.is_admin(user):
        query = query.where(ArenaBattle.user_id == user.id)
    battles = session.scalars(query)
    rows, dropped = [], 0
    for battle in battles:
        answers = _answers(session, battle)
        if answers is None:
            dropped += 1
            continue
        a_side, b_side = (answers[0], battle.model_a_id), (answers[1], battle.model_b_id)
        (chosen, chosen_model), (rejected, rejected_model) = (
            (a_side, b_side) if battle.vote == "a" else (b_side, a_side)
        )
        if not chosen.strip() or not rejected.strip() or chosen == rejected:
            dropped += 1  # the preference format refuses empty or identical responses
            continue
        rows.append(
            {
                "prompt": [{"role": "user", "content": battle.prompt}],
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}],
                "battle_id": battle.id,
                "chosen_model_id": chosen_model,
                "rejected_model_id": rejected_model,
            }
        )
    return rows, dropped


def export_arena(
    session: Session, store: ArtifactStore, body: ArenaExportCreate, user: User
) -> list[DatasetVersion]:
    """Every decisive arena vote as a preference dataset (one version), through the labeling export."""
    name = body.name.strip()
    labeling_quality.check_name_free(session, name)
    rows, dropped = arena_pairs(session, user)
    if not rows:
        raise Invalid(
            "the arena has no decisive votes to export yet (ties and both-bad give no pair)",
            details={"field": "arena", "value": 0},
        )
    return labeling_quality.store_export(
        session,
        store,
        user,
        name=name,
        description="Exported from the arena's decisive votes",
        parts={None: rows},
        fmt="preference",
        operation={"op": "arena_export", "kind": "pairs"},
        stats={"dropped_empty_or_identical": dropped},
    )
