"""Handing out items and taking labels back: next (overlap-respecting, concurrency-safe), submit, skip,
drafts, AI-judge labels, and who may read an item's labels.

Concurrency: each item keeps `assigned_count`, the number of live (claimed or submitted, not skipped)
assignments. A claim is one transaction: a conditional ``UPDATE ... SET assigned_count = assigned_count + 1
WHERE assigned_count < overlap`` and an INSERT guarded by the unique (item, labeler) constraint. PostgreSQL
re-checks the WHERE after waiting on the row lock and SQLite serialises writers, so a slot is never handed out
twice; a labeler asking twice at once gets an IntegrityError on the second insert, which rolls back its
increment as well.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db import utcnow
from backend.models.labeling import (
    LabelingAssignment,
    LabelingCampaign,
    LabelingCandidate,
    LabelingItem,
    LabelingLabel,
)
from backend.models.users import Role, User
from backend.schemas.labeling import AiLabelCreate, Assignment, CandidateShown, DraftSave, LabelSubmit
from backend.services import labeling_math
from backend.services.errors import Conflict, Forbidden, Invalid, NotFound

CLAIM_ATTEMPTS = 5
CANDIDATE_BATCH = 50


def release_stale(session: Session, campaign: LabelingCampaign) -> int:
    """Free the slots of claims left unsubmitted past the campaign's timeout (their drafts go with them)."""
    cutoff = utcnow() - timedelta(seconds=campaign.claim_timeout_s)
    stale = session.execute(
        select(LabelingAssignment.id, LabelingAssignment.item_id)
        .join(LabelingItem, LabelingAssignment.item_id == LabelingItem.id)
        .where(
            LabelingItem.campaign_id == campaign.id,
            LabelingAssignment.submitted_at.is_(None),
            LabelingAssignment.skipped.is_(False),
            LabelingAssignment.claimed_at < cutoff,
        )
    ).all()
    released = 0
    for assignment_id, item_id in stale:
        session.execute(LabelingLabel.__table__.delete().where(LabelingLabel.assignment_id == assignment_id))
        gone = session.execute(
            LabelingAssignment.__table__.delete().where(
                LabelingAssignment.id == assignment_id,
                LabelingAssignment.submitted_at.is_(None),
                LabelingAssignment.skipped.is_(False),
            )
        ).rowcount
        if gone:
            session.execute(
                update(LabelingItem)
                .where(LabelingItem.id == item_id)
                .values(assigned_count=LabelingItem.assigned_count - 1)
            )
            released += 1
    session.commit()
    return released


def _open_assignment(session: Session, campaign: LabelingCampaign, user: User) -> LabelingAssignment | None:
    return session.scalar(
        select(LabelingAssignment)
        .join(LabelingItem, LabelingAssignment.item_id == LabelingItem.id)
        .where(
            LabelingItem.campaign_id == campaign.id,
            LabelingAssignment.labeler_id == user.id,
            LabelingAssignment.submitted_at.is_(None),
            LabelingAssignment.skipped.is_(False),
        )
        .order_by(LabelingAssignment.id)
        .limit(1)
    )


def _free_items(session: Session, campaign: LabelingCampaign, user: User) -> list[int]:
    """Items with a free slot, not yet seen by this labeler, whose candidates are all written; smallest reward
    margin first when the campaign's reward model scored them."""
    seen = exists().where(
        LabelingAssignment.item_id == LabelingItem.id, LabelingAssignment.labeler_id == user.id
    )
    unwritten = exists().where(LabelingCandidate.item_id == LabelingItem.id, LabelingCandidate.text.is_(None))
    return list(
        session.scalars(
            select(LabelingItem.id)
            .where(
                LabelingItem.campaign_id == campaign.id,
                LabelingItem.assigned_count < campaign.overlap,
                ~seen,
                ~unwritten,
            )
            # With a reward model attached: the items it is least sure about (smallest margin) first. Then
            # fill items already started first, so complete items appear early.
            .order_by(
                LabelingItem.reward_margin.is_(None),
                LabelingItem.reward_margin,
                LabelingItem.assigned_count.desc(),
                LabelingItem.id,
            )
            .limit(CANDIDATE_BATCH)
        )
    )


def _claim(
    session: Session, campaign: LabelingCampaign, user: User, item_id: int
) -> LabelingAssignment | None:
    taken = session.execute(
        update(LabelingItem)
        .where(LabelingItem.id == item_id, LabelingItem.assigned_count < campaign.overlap)
        .values(assigned_count=LabelingItem.assigned_count + 1)
    ).rowcount
    if not taken:
        session.commit()  # nothing changed; end the transaction the UPDATE opened
        return None
    order = list(session.scalars(select(LabelingCandidate.id).where(LabelingCandidate.item_id == item_id)))
    random.shuffle(order)
    assignment = LabelingAssignment(
        item_id=item_id, labeler_id=user.id, shown_order=order, claimed_at=utcnow()
    )
    session.add(assignment)
    session.flush()  # the unique (item, labeler) constraint speaks here
    session.commit()
    return assignment


def next_assignment(session: Session, campaign: LabelingCampaign, user: User) -> LabelingAssignment | None:
    """The labeler's open assignment, else a new claim; None when nothing is left for them."""
    if campaign.status == "closed":
        raise Conflict(
            f"campaign {campaign.id} is closed", details={"field": "campaign_id", "value": campaign.id}
        )
    release_stale(session, campaign)
    current = _open_assignment(session, campaign, user)
    if current is not None:
        return current
    for _ in range(CLAIM_ATTEMPTS):
        free = _free_items(session, campaign, user)
        if not free:
            return None
        try:
            for item_id in free:
                claimed = _claim(session, campaign, user, item_id)
                if claimed is not None:
                    return claimed
        except IntegrityError:
            session.rollback()  # the same labeler claimed this item in a concurrent request
            current = _open_assignment(session, campaign, user)
            if current is not None:
                return current
    return None


def _label_of(session: Session, assignment: LabelingAssignment) -> LabelingLabel | None:
    return session.scalar(select(LabelingLabel).where(LabelingLabel.assignment_id == assignment.id))


def view(
    session: Session, campaign: LabelingCampaign, assignment: LabelingAssignment, progress: dict
) -> Assignment:
    """What a labeler sees: prompt, candidates in their shown order (no model names), flags, their draft."""
    item = session.get(LabelingItem, assignment.item_id)
    texts = {c.id: c.text or "" for c in item.candidates}
    label = _label_of(session, assignment)
    return Assignment(
        assignment_id=assignment.id,
        campaign_id=campaign.id,
        item_id=item.id,
        mode=campaign.mode,
        prompt=item.prompt,
        candidates=[
            CandidateShown(position=i + 1, text=texts[c]) for i, c in enumerate(assignment.shown_order)
        ],
        flags=campaign.flags,
        draft=(
            {"answer": label.answer, "flags": _flags_by_position(label.flags, assignment.shown_order)}
            if label is not None and label.draft
            else None
        ),
        progress=progress,
    )


def get_assignment(
    session: Session, campaign: LabelingCampaign, assignment_id: int, user: User
) -> LabelingAssignment:
    assignment = session.scalar(
        select(LabelingAssignment)
        .join(LabelingItem, LabelingAssignment.item_id == LabelingItem.id)
        .where(LabelingAssignment.id == assignment_id, LabelingItem.campaign_id == campaign.id)
    )
    if assignment is None or assignment.labeler_id != user.id:
        raise NotFound(
            f"assignment {assignment_id} not found in campaign {campaign.id}",
            details={"field": "assignment_id", "value": assignment_id},
        )
    return assignment


def _flags_by_id(
    campaign: LabelingCampaign, flags: dict[str, list[str]], shown: list[int]
) -> dict[str, list[str]]:
    out = {}
    for position, names in flags.items():
        unknown = sorted(set(names) - set(campaign.flags))
        if unknown:
            raise Invalid(
                f"unknown flag(s) {', '.join(unknown)} for position {position}: "
                f"choose from {', '.join(campaign.flags)}",
                details={"field": f"flags.{position}", "value": names},
            )
        try:
            out[str(labeling_math.candidate_at(position, shown, "flags"))] = sorted(set(names))
        except ValueError as exc:
            raise Invalid(str(exc), details={"field": f"flags.{position}", "value": position}) from exc
    return out


def _flags_by_position(flags: dict[str, list[str]], shown: list[int]) -> dict[str, list[str]]:
    return {str(shown.index(int(c)) + 1): names for c, names in flags.items() if int(c) in shown}


def _tiers(campaign: LabelingCampaign, answer: dict, shown: list[int]):
    try:
        return labeling_math.answer_to_tiers(campaign.mode, answer, shown)
    except ValueError as exc:
        raise Invalid(str(exc), details={"field": "answer", "value": answer}) from exc


def _open_or_409(assignment: LabelingAssignment) -> None:
    if assignment.submitted_at is not None:
        raise Conflict(
            f"assignment {assignment.id} was already submitted", details={"field": "assignment_id"}
        )
    if assignment.skipped:
        raise Conflict(f"assignment {assignment.id} was skipped", details={"field": "assignment_id"})


def _close_once(session: Session, assignment: LabelingAssignment, **values) -> bool:
    """Close an assignment that is still open (not submitted, not skipped), at most once under concurrency."""
    return bool(
        session.execute(
            update(LabelingAssignment)
            .where(
                LabelingAssignment.id == assignment.id,
                LabelingAssignment.submitted_at.is_(None),
                LabelingAssignment.skipped.is_(False),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def submit(
    session: Session, campaign: LabelingCampaign, assignment: LabelingAssignment, body: LabelSubmit
) -> LabelingLabel:
    """Store the answer (validated against the mode) and mark the assignment submitted, exactly once."""
    _open_or_409(assignment)
    tiers, verdicts, both_bad = _tiers(campaign, body.answer, assignment.shown_order)
    flags = _flags_by_id(campaign, body.flags, assignment.shown_order)
    now = utcnow()
    if not _close_once(session, assignment, submitted_at=now):
        session.rollback()
        raise Conflict(
            f"assignment {assignment.id} was released (claim timed out), skipped or already submitted",
            details={"field": "assignment_id", "value": assignment.id},
        )
    label = _label_of(session, assignment) or LabelingLabel(
        item_id=assignment.item_id,
        assignment_id=assignment.id,
        labeler_id=assignment.labeler_id,
        kind="human",
    )
    label.answer = {**body.answer, **({"choice": "both_bad"} if both_bad else {})}
    label.tiers, label.verdicts, label.flags = tiers, {str(c): v for c, v in verdicts.items()}, flags
    label.seconds, label.draft, label.updated_at = body.seconds, False, now
    session.add(label)
    session.commit()
    return label


def save_draft(
    session: Session, campaign: LabelingCampaign, assignment: LabelingAssignment, body: DraftSave
) -> LabelingLabel:
    """Keep a half-done answer (not validated, not counted) and renew the claim."""
    _open_or_409(assignment)
    flags = _flags_by_id(campaign, body.flags, assignment.shown_order)
    label = _label_of(session, assignment) or LabelingLabel(
        item_id=assignment.item_id,
        assignment_id=assignment.id,
        labeler_id=assignment.labeler_id,
        kind="human",
    )
    label.answer, label.flags, label.seconds, label.draft, label.updated_at = (
        body.answer,
        flags,
        body.seconds,
        True,
        utcnow(),
    )
    assignment.claimed_at = utcnow()
    session.add(label)
    session.commit()
    return label


def skip(session: Session, assignment: LabelingAssignment) -> None:
    """The labeler passes: the slot goes back to the pool, and this labeler never gets the item again."""
    _open_or_409(assignment)
    if _close_once(session, assignment, skipped=True):
        session.execute(LabelingLabel.__table__.delete().where(LabelingLabel.assignment_id == assignment.id))
        session.execute(
            update(LabelingItem)
            .where(LabelingItem.id == assignment.item_id)
            .values(assigned_count=LabelingItem.assigned_count - 1)
        )
    session.commit()


def get_item(session: Session, campaign: LabelingCampaign, item_id: int) -> LabelingItem:
    item = session.get(LabelingItem, item_id)
    if item is None or item.campaign_id != campaign.id:
        raise NotFound(f"item {item_id} not found in campaign {campaign.id}", details={"field": "item_id"})
    return item


def add_ai_label(
    session: Session, campaign: LabelingCampaign, item: LabelingItem, body: AiLabelCreate, user: User
):
    """A model acting as judge: stored with kind 'ai', outside assignments and overlap."""
    stored = [c.id for c in item.candidates]
    shown = body.shown_order or stored
    if sorted(shown) != sorted(stored):
        raise Invalid(
            f"shown_order must list the item's candidate ids {stored} in some order",
            details={"field": "shown_order", "value": body.shown_order},
        )
    tiers, verdicts, both_bad = _tiers(campaign, body.answer, shown)
    label = LabelingLabel(
        item_id=item.id,
        labeler_id=user.id,
        kind="ai",
        judge=body.judge,
        answer={**body.answer, "shown_order": shown, **({"choice": "both_bad"} if both_bad else {})},
        tiers=tiers,
        verdicts={str(c): v for c, v in verdicts.items()},
        flags=_flags_by_id(campaign, body.flags, shown),
        seconds=body.seconds,
        draft=False,
    )
    session.add(label)
    session.commit()
    return label


def item_labels(
    session: Session, campaign: LabelingCampaign, item: LabelingItem, user: User
) -> list[LabelingLabel]:
    """Submitted labels of an item. A labeler sees them only after submitting their own for that item."""
    if user.role == Role.labeler:
        mine = session.scalar(
            select(LabelingAssignment.id).where(
                LabelingAssignment.item_id == item.id,
                LabelingAssignment.labeler_id == user.id,
                LabelingAssignment.submitted_at.is_not(None),
            )
        )
        if mine is None:
            raise Forbidden(
                f"submit your own label for item {item.id} before reading the others'",
                details={"field": "item_id", "value": item.id},
            )
    return list(
        session.scalars(
            select(LabelingLabel)
            .where(LabelingLabel.item_id == item.id, LabelingLabel.draft.is_(False))
            .order_by(LabelingLabel.id)
        )
    )
