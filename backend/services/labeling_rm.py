"""A reward model in a labeling campaign: attach a succeeded reward job, score the campaign's candidates with
it on the infer worker (a score per candidate, a margin per item, which the queue hands out smallest first),
and the accuracy of reward jobs trained from the campaign on its held-out labels."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from backend.config import Settings
from backend.models.datasets import DatasetVersion
from backend.models.inference import InferenceRequest
from backend.models.jobs import Job, JobMetric, JobStatus
from backend.models.labeling import LabelingCampaign, LabelingCandidate, LabelingExport, LabelingItem
from backend.models.users import User
from backend.services import access, inference
from backend.services.errors import Invalid

#: the inference request kind the infer worker answers by scoring a campaign's candidates
SCORE_KIND = "reward_scores"
#: the metric the reward trainer logs on its evaluation set: share of pairs where chosen scored higher
ACCURACY_METRIC = "eval_accuracy"


def margin(scores: list[float]) -> float | None:
    """Best minus second-best score (for two candidates, the absolute difference); None under two scores."""
    if len(scores) < 2:
        return None
    best, second = sorted(scores, reverse=True)[:2]
    return best - second


def reward_job(session: Session, job_id: int, user: User | None, field: str = "reward_job_id") -> Job:
    """A succeeded reward-model job the caller may see (one they may not see reads as not one)."""
    job = session.get(Job, job_id)
    if (
        job is None
        or not access.can_see(user, job)
        or job.method != "reward"
        or job.status != JobStatus.succeeded
        or not job.output_path
    ):
        raise Invalid(
            f"{field}: job {job_id} is not a succeeded reward-model job (method 'reward')",
            details={"field": field, "value": job_id},
        )
    return job


def _campaign_items(campaign_id: int):
    return select(LabelingItem.id).where(LabelingItem.campaign_id == campaign_id).scalar_subquery()


def clear_scores(session: Session, campaign: LabelingCampaign) -> None:
    """Forget scores of a previous reward model: the queue falls back to its plain order."""
    session.execute(
        update(LabelingCandidate)
        .where(LabelingCandidate.item_id.in_(_campaign_items(campaign.id)))
        .values(reward_score=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(LabelingItem)
        .where(LabelingItem.campaign_id == campaign.id)
        .values(reward_margin=None)
        .execution_options(synchronize_session=False)
    )


def submit_scoring(
    session: Session, settings: Settings, campaign: LabelingCampaign, user: User | None
) -> InferenceRequest:
    """Queue scoring of every written candidate with the attached reward model."""
    if campaign.reward_job_id is None:
        raise Invalid(
            f"campaign {campaign.id} has no reward model: attach one with PATCH reward_job_id",
            details={"field": "reward_job_id", "value": None},
        )
    job = reward_job(session, campaign.reward_job_id, None)  # checked when it was attached
    payload = {
        "campaign_id": campaign.id,
        "reward_job_id": job.id,
        # a stored path (backend.storage): the worker resolves it against its own data folder
        "model_path": f"{job.output_path}/final",
        "chat_template": (job.spec or {}).get("chat_template", "model"),
    }
    request = inference.submit(session, settings, SCORE_KIND, payload, user)
    campaign.reward_request_id = request.id
    session.commit()
    return request


def attach(
    session: Session, settings: Settings, campaign: LabelingCampaign, job_id: int | None, user: User
) -> LabelingCampaign:
    """Attach a reward model (scores of another one are dropped, scoring is queued) or detach it (None)."""
    job = reward_job(session, job_id, user) if job_id is not None else None
    if job is None or job.id != campaign.reward_job_id:
        clear_scores(session, campaign)
    campaign.reward_job_id = job.id if job else None
    campaign.reward_request_id = None
    session.commit()
    if job is not None:
        submit_scoring(session, settings, campaign, user)
    return campaign


def scoring_status(session: Session, campaign: LabelingCampaign) -> dict | None:
    """What the campaign view shows: the scoring request's status and how many candidates have a score."""
    if campaign.reward_job_id is None:
        return None
    request_id = campaign.reward_request_id
    request = session.get(InferenceRequest, request_id) if request_id else None
    counts = session.execute(
        select(func.count(LabelingCandidate.text), func.count(LabelingCandidate.reward_score)).where(
            LabelingCandidate.item_id.in_(_campaign_items(campaign.id))
        )
    ).one()
    return {
        "reward_job_id": campaign.reward_job_id,
        "request_id": request.id if request else None,
        "status": request.status.value if request else "not started",
        "error": request.error if request else None,
        "candidates": counts[0],
        "scored": counts[1],
    }


# ---- called by the infer worker -------------------------------------------------------------------------


def items_to_score(session: Session, campaign_id: int) -> list[tuple[list[dict], list[tuple[int, str]]]]:
    """(prompt, [(candidate id, text)]) of every item whose candidates are all written."""
    items = session.scalars(
        select(LabelingItem)
        .where(LabelingItem.campaign_id == campaign_id)
        .options(selectinload(LabelingItem.candidates))
        .order_by(LabelingItem.id)
    )
    out = []
    for item in items:
        if item.candidates and all(c.text is not None for c in item.candidates):
            out.append((item.prompt, [(c.id, c.text) for c in item.candidates]))
    return out


def store_scores(session: Session, campaign_id: int, reward_job_id: int, scores: dict[int, float]) -> bool:
    """Store candidate scores and their items' margins, unless the campaign's reward model has changed."""
    campaign = session.get(LabelingCampaign, campaign_id)
    if campaign is None or campaign.reward_job_id != reward_job_id:
        return False
    candidates = session.scalars(
        select(LabelingCandidate).where(
            LabelingCandidate.id.in_(list(scores)),
            LabelingCandidate.item_id.in_(_campaign_items(campaign_id)),
        )
    ).all()
    items = set()
    for candidate in candidates:
        candidate.reward_score = scores[candidate.id]
        items.add(candidate.item_id)
    session.flush()
    for item in session.scalars(select(LabelingItem).where(LabelingItem.id.in_(items))):
        item.reward_margin = margin([c.reward_score for c in item.candidates if c.reward_score is not None])
    session.commit()
    return True


# ---- held-out accuracy ----------------------------------------------------------------------------------


def _last_metric(session: Session, job_id: int, name: str) -> tuple[float, int] | None:
    row = session.execute(
        select(JobMetric.value, JobMetric.step)
        .where(JobMetric.job_id == job_id, JobMetric.name == name)
        .order_by(JobMetric.step.desc(), JobMetric.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def reward_models(session: Session, campaign: LabelingCampaign) -> list[dict]:
    """Every reward job trained on this campaign's exports, with its accuracy on the campaign's held-out
    labels (the reward trainer's last eval_accuracy on a validation version exported from this campaign)."""
    exported = session.execute(
        select(DatasetVersion.id, DatasetVersion.split, DatasetVersion.row_count, LabelingExport.created_at)
        .join(LabelingExport, LabelingExport.version_id == DatasetVersion.id)
        .where(LabelingExport.campaign_id == campaign.id)
    ).all()
    if not exported:
        return []
    versions = {v.id: v for v in exported}
    since = min(v.created_at for v in exported)
    jobs = session.scalars(
        select(Job).where(Job.method == "reward", Job.created_at >= since).order_by(Job.id)
    ).all()
    out = []
    for job in jobs:
        trained = [d.get("version_id") for d in job.datasets or [] if d.get("version_id") in versions]
        held = versions.get(job.eval_dataset_version_id)
        if not trained and held is None:
            continue
        on_held_out = held is not None and held.split == "validation"
        measured = _last_metric(session, job.id, ACCURACY_METRIC) if on_held_out else None
        out.append(
            {
                "job_id": job.id,
                "name": job.name,
                "status": job.status.value,
                "train_version_ids": trained,
                "held_out_version_id": held.id if on_held_out else None,
                "held_out_pairs": held.row_count if on_held_out else None,
                "accuracy": measured[0] if measured else None,
                "measured_at_step": measured[1] if measured else None,
                "attached": job.id == campaign.reward_job_id,
            }
        )
    return out
