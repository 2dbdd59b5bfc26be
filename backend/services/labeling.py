"""Labeling campaigns: create one from a dataset version (prompts, candidates from the rows and/or written by
models on the infer worker), fill generated candidates as their requests finish, list and read campaigns."""

from __future__ import annotations

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.models.inference import InferenceRequest, InferenceStatus
from backend.models.labeling import LabelingAssignment, LabelingCampaign, LabelingCandidate, LabelingItem
from backend.models.ownership import Visibility
from backend.models.users import Role, User
from backend.schemas.inference import GenerationCreate
from backend.schemas.labeling import CampaignCreate, CampaignUpdate, ItemCreate
from backend.services import access, datasets, inference, labeling_rm, registry
from backend.services.errors import Conflict, Invalid, NotFound
from backend.storage import ArtifactStore

PROMPT_FORMATS = ("prompt_only", "chat", "instruction", "preference")


def _last_text(messages: list[dict]) -> str:
    return messages[-1]["content"] if messages else ""


def _from_row(fmt: str, row: dict) -> tuple[list[dict], list[tuple[str, str]], str | None]:
    """(prompt messages, [(field, response text)], reference answer) of one normalised row."""
    if fmt == "prompt_only":
        return row["prompt"], [], row.get("answer")
    if fmt == "preference":
        return (
            row["prompt"],
            [("chosen", _last_text(row["chosen"])), ("rejected", _last_text(row["rejected"]))],
            None,
        )
    if fmt == "instruction":
        text = row["instruction"] + (f"\n\n{row['input']}" if row["input"] else "")
        return [{"role": "user", "content": text}], [("output", row["output"])], row["output"]
    messages = row["messages"]
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    answer = "\n\n".join(m["content"] for m in messages[last_user + 1 :])
    return messages[: last_user + 1], [("messages", answer)], answer


def _check_generation(session: Session, data: CampaignCreate, user: User) -> list:
    if data.generate is None:
        return []
    if data.generate.samples_per_model > 1 and not data.generate.params.do_sample:
        raise Invalid(
            "samples_per_model > 1 needs sampling (params.do_sample = true): greedy answers are identical",
            details={"field": "generate.samples_per_model", "value": data.generate.samples_per_model},
        )
    models = []
    for i, model_id in enumerate(data.generate.model_ids):
        try:
            models.append(registry.get_model(session, model_id, user))
        except NotFound as exc:
            raise Invalid(
                exc.message, details={"field": f"generate.model_ids[{i}]", "value": model_id}
            ) from exc
    return models


def _candidate_count(data: CampaignCreate, fmt: str) -> int:
    from_rows = {"prompt_only": 0, "preference": 2}.get(fmt, 1) if data.use_dataset_responses else 0
    generated = len(data.generate.model_ids) * data.generate.samples_per_model if data.generate else 0
    k = from_rows + generated
    if k < 2 or k > 9:
        raise Invalid(
            f"each prompt needs 2 to 9 candidates; this campaign would give {k} ({from_rows} from the "
            f"'{fmt}' rows, {generated} generated): add models or samples",
            details={"field": "generate", "value": k},
        )
    if data.mode == "pairwise" and k != 2:
        raise Invalid(
            f"pairwise campaigns compare exactly 2 candidates, this one would have {k}: use mode 'rank'",
            details={"field": "mode", "value": data.mode},
        )
    return k


def _check_labelers(session: Session, labeler_ids: list[int]) -> None:
    """Every id names an active labeler (an engineer or a typo would silently keep the campaign from them)."""
    wanted = set(labeler_ids)
    found = set(
        session.scalars(
            select(User.id).where(User.id.in_(wanted), User.role == Role.labeler, User.is_active.is_(True))
        )
    )
    for i, labeler_id in enumerate(labeler_ids):
        if labeler_id not in found:
            raise Invalid(
                f"labeler_ids[{i}]: user {labeler_id} is not an active labeler",
                details={"field": f"labeler_ids[{i}]", "value": labeler_id},
            )


def create_campaign(
    session: Session, settings: Settings, store: ArtifactStore, data: CampaignCreate, user: User
) -> LabelingCampaign:
    """Store the campaign, its items and candidates; then queue one generation request per generated
    candidate. Items whose candidates are all written can be labeled at once."""
    if session.scalar(select(LabelingCampaign).where(LabelingCampaign.name == data.name)):
        raise Conflict(f"a campaign named '{data.name}' already exists", details={"field": "name"})
    version = datasets.get_version(session, data.version_id, user)
    if version.format not in PROMPT_FORMATS:
        raise Invalid(
            f"dataset version {version.id} is '{version.format}'; campaigns take prompts from "
            f"{', '.join(PROMPT_FORMATS)} data",
            details={"field": "version_id", "value": version.id},
        )
    models = _check_generation(session, data, user)
    _check_labelers(session, data.labeler_ids)
    k = _candidate_count(data, version.format)
    if data.reward_job_id is not None:
        labeling_rm.reward_job(session, data.reward_job_id, user)
    campaign = LabelingCampaign(
        owner_id=user.id,
        name=data.name,
        guidelines=data.guidelines,
        mode=data.mode,
        k=k,
        overlap=data.overlap,
        agreement_threshold=data.agreement_threshold,
        flags=data.flags,
        status="generating" if models else "open",
        source_version_id=version.id,
        labeler_ids=data.labeler_ids,
        claim_timeout_s=data.claim_timeout_s,
        generation=data.model_dump(mode="json", include={"use_dataset_responses", "generate"}),
    )
    session.add(campaign)
    to_generate = []
    for row in datasets.read_rows(store, version, 0, data.max_items):
        prompt, responses, reference = _from_row(version.format, row)
        item = LabelingItem(prompt=prompt, reference=reference)
        campaign.items.append(item)
        if data.use_dataset_responses:
            for field, text in responses:
                item.candidates.append(
                    LabelingCandidate(text=text, provenance={"source": "dataset", "field": field})
                )
        for model in models:
            for sample in range(data.generate.samples_per_model):
                params = data.generate.params.model_copy(
                    update={"seed": (data.generate.params.seed or 0) + sample}
                )
                provenance = {
                    "source": "model",
                    "model_id": model.id,
                    "model_name": model.name,
                    "sample": sample,
                }
                candidate = LabelingCandidate(
                    provenance={**provenance, "params": params.model_dump(mode="json")}
                )
                item.candidates.append(candidate)
                to_generate.append((candidate, model.id, params))
    session.commit()
    for candidate, model_id, params in to_generate:
        request = GenerationCreate(
            **params.model_dump(),
            model_ids=[model_id],
            messages=candidate.item.prompt,
            chat_template=data.generate.chat_template,
        )
        candidate.inference_request_id = inference.submit_generation(session, settings, request, user).id
    session.commit()
    if data.reward_job_id is not None:
        labeling_rm.attach(session, settings, campaign, data.reward_job_id, user)
    return campaign


def sync_generation(session: Session, campaign: LabelingCampaign) -> None:
    """Copy finished generation answers into their candidates; open the campaign when none is pending."""
    if campaign.status != "generating":
        return
    rows = session.execute(
        select(LabelingCandidate, InferenceRequest)
        .join(LabelingItem, LabelingCandidate.item_id == LabelingItem.id)
        .join(InferenceRequest, LabelingCandidate.inference_request_id == InferenceRequest.id)
        .where(LabelingItem.campaign_id == campaign.id, LabelingCandidate.text.is_(None))
    ).all()
    pending = 0
    for candidate, request in rows:
        if request.status == InferenceStatus.succeeded:
            candidate.text = request.result["outputs"][0]["text"]
        elif request.status == InferenceStatus.failed and candidate.error is None:
            candidate.error = request.error or "generation failed"
        elif request.status != InferenceStatus.failed:
            pending += 1
    if pending == 0:
        campaign.status = "open"
    session.commit()


def visible(user: User):
    """A filter on campaigns: admins see all, engineers their own and shared ones, labelers those they may
    label (whatever their visibility: a campaign's labeler list decides)."""
    if user.role == Role.admin:
        return true()
    if user.role == Role.engineer:
        return or_(LabelingCampaign.owner_id == user.id, LabelingCampaign.visibility == Visibility.shared)
    return LabelingCampaign.status != "closed"


def may_label(campaign: LabelingCampaign, user: User) -> bool:
    return not campaign.labeler_ids or user.id in campaign.labeler_ids or user.role != Role.labeler


def get_campaign(session: Session, campaign_id: int, user: User) -> LabelingCampaign:
    campaign = session.scalar(
        select(LabelingCampaign).where(LabelingCampaign.id == campaign_id, visible(user))
    )
    if campaign is None or not may_label(campaign, user):
        raise NotFound(
            f"campaign {campaign_id} not found", details={"field": "campaign_id", "value": campaign_id}
        )
    sync_generation(session, campaign)
    return campaign


def changeable_campaign(session: Session, campaign_id: int, user: User) -> LabelingCampaign:
    """A campaign `user` may manage (its owner, admins): 404 unseen, 403 when only shared with them."""
    return access.check_changeable(user, get_campaign(session, campaign_id, user), "campaign", campaign_id)


def update_campaign(
    session: Session, settings: Settings, campaign_id: int, user: User, body: CampaignUpdate
) -> LabelingCampaign:
    """Share a campaign with the studio's engineers (to read) or make it private again, and attach or
    detach its reward model; its owner or an admin only."""
    campaign = changeable_campaign(session, campaign_id, user)
    if body.visibility is not None:
        access.set_visibility(session, campaign, body.visibility)
        session.commit()
    if "reward_job_id" in body.model_fields_set:
        labeling_rm.attach(session, settings, campaign, body.reward_job_id, user)
    return campaign


def list_campaigns(session: Session, user: User) -> list[LabelingCampaign]:
    campaigns = session.scalars(
        select(LabelingCampaign).where(visible(user)).order_by(LabelingCampaign.id.desc())
    )
    return [c for c in campaigns if may_label(c, user)]


def progress(session: Session, campaign: LabelingCampaign, user: User | None = None) -> dict[str, int]:
    """Items, labels submitted, items with `overlap` labels, and (for a user) their own submitted count."""
    submitted = (
        select(LabelingAssignment.item_id, func.count().label("n"))
        .join(LabelingItem, LabelingAssignment.item_id == LabelingItem.id)
        .where(LabelingItem.campaign_id == campaign.id, LabelingAssignment.submitted_at.is_not(None))
        .group_by(LabelingAssignment.item_id)
        .subquery()
    )
    labels = session.scalar(select(func.coalesce(func.sum(submitted.c.n), 0)))
    complete = session.scalar(
        select(func.count()).select_from(submitted).where(submitted.c.n >= campaign.overlap)
    )
    items = session.scalar(select(func.count(LabelingItem.id)).where(LabelingItem.campaign_id == campaign.id))
    out = {
        "items": items,
        "labels": int(labels),
        "complete_items": complete,
        "target_labels": items * campaign.overlap,
    }
    if user is not None:
        out["mine"] = session.scalar(
            select(func.count(LabelingAssignment.id))
            .join(LabelingItem, LabelingAssignment.item_id == LabelingItem.id)
            .where(
                LabelingItem.campaign_id == campaign.id,
                LabelingAssignment.labeler_id == user.id,
                LabelingAssignment.submitted_at.is_not(None),
            )
        )
    return out


def close_campaign(session: Session, campaign: LabelingCampaign) -> LabelingCampaign:
    campaign.status = "closed"
    session.commit()
    return campaign


def set_gold(session: Session, item: LabelingItem, tiers: list[list[int]]) -> None:
    """The right answer of a gold item, as tiers of its candidate ids, best first."""
    ids = {c.id for c in item.candidates}
    flat = [c for tier in tiers for c in tier]
    if not flat or len(set(flat)) != len(flat) or not set(flat) <= ids:
        raise Invalid(
            f"gold must group item {item.id}'s candidate ids {sorted(ids)} into tiers, each id at most once",
            details={"field": "body", "value": tiers},
        )
    item.gold = [list(t) for t in tiers if t]
    session.commit()


def item_table(campaign: LabelingCampaign) -> list[dict]:
    """Items with candidates and their provenance: the engineer's view (labelers never see model names)."""
    return [
        {
            "id": item.id,
            "prompt": item.prompt,
            "reference": item.reference,
            "gold": item.gold,
            "assigned_count": item.assigned_count,
            "reward_margin": item.reward_margin,
            "candidates": [
                {
                    "id": c.id,
                    "text": c.text,
                    "provenance": c.provenance,
                    "error": c.error,
                    "reward_score": c.reward_score,
                }
                for c in item.candidates
            ],
        }
        for item in campaign.items
    ]


def add_items(session: Session, campaign: LabelingCampaign, items: list[ItemCreate]) -> list[LabelingItem]:
    """Items from a script or the arena: each with exactly the campaign's K candidates, all or nothing."""
    if campaign.status == "closed":
        raise Conflict(
            f"campaign {campaign.id} is closed", details={"field": "campaign_id", "value": campaign.id}
        )
    for i, item in enumerate(items):
        if len(item.candidates) != campaign.k:
            raise Invalid(
                f"items[{i}] has {len(item.candidates)} candidates; the campaign needs {campaign.k}",
                details={"field": f"items[{i}].candidates", "value": len(item.candidates)},
            )
        if item.prompt[-1].role != "user":
            raise Invalid(
                f"items[{i}].prompt must end with a user turn", details={"field": f"items[{i}].prompt"}
            )
    created = []
    for item in items:
        row = LabelingItem(prompt=[m.model_dump() for m in item.prompt], reference=item.reference)
        row.candidates = [LabelingCandidate(text=c.text, provenance=c.provenance) for c in item.candidates]
        campaign.items.append(row)
        created.append(row)
    session.commit()
    return created
