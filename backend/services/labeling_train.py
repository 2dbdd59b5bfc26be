"""From a campaign to a training job in one action: export the labels the method needs, then queue the job
(a reward model also gets the held-out validation version as its evaluation set)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.config import Settings
from backend.models.jobs import Job
from backend.models.labeling import LabelingCampaign
from backend.models.users import User
from backend.schemas.jobs import DatasetRef, JobCreate
from backend.schemas.labeling import TRAINABLE, CampaignTrain
from backend.services import datasets, jobs, labeling_quality
from backend.services.errors import ServiceError
from backend.storage import ArtifactStore


def train_from_campaign(
    session: Session,
    settings: Settings,
    store: ArtifactStore,
    campaign: LabelingCampaign,
    body: CampaignTrain,
    user: User,
) -> Job:
    """Export, then create the job; if the job is refused the export is removed (nothing half-stored)."""
    options = body.export.model_copy(update={"kind": TRAINABLE[body.spec.method]})
    versions = labeling_quality.export(session, store, campaign, options, user)
    train = next(v for v in versions if v.split in (None, "train"))
    held_out = next((v for v in versions if v.split == "validation"), None)
    request = JobCreate(
        name=body.name or f"{campaign.name}-{body.spec.method}",
        base_model_id=body.base_model_id,
        datasets=[DatasetRef(version_id=train.id)],
        eval_dataset_version_id=held_out.id if held_out else None,
        spec=body.spec,
    )
    try:
        return jobs.create_job(session, settings, request, user)
    except ServiceError:
        session.rollback()
        datasets.delete_dataset(session, store, train.dataset_id)
        raise
