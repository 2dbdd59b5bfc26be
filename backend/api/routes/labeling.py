"""Human preference labeling: campaigns (engineers), the labeling queue (labelers), quality and export."""

from __future__ import annotations

from fastapi import APIRouter, Response

from backend.api.deps import CurrentUser, Engineer, ResourceId, SessionDep, SettingsDep, StoreDep
from backend.schemas.datasets import DatasetVersionRead
from backend.schemas.jobs import JobRead
from backend.schemas.labeling import (
    AiLabelCreate,
    ArenaExportCreate,
    Assignment,
    CampaignCreate,
    CampaignRead,
    CampaignTrain,
    CampaignUpdate,
    DraftSave,
    ExportCreate,
    ItemCreate,
    LabelRead,
    LabelSubmit,
)
from backend.services import (
    jobs,
    labeling,
    labeling_arena,
    labeling_quality,
    labeling_queue,
    labeling_rm,
    labeling_train,
)

router = APIRouter(prefix="/labeling", tags=["labeling"])


def _read(session, campaign, user) -> CampaignRead:
    read = CampaignRead.model_validate(campaign)
    read.progress = labeling.progress(session, campaign, user)
    read.reward_scoring = labeling_rm.scoring_status(session, campaign)
    return read


@router.post("/campaigns", response_model=CampaignRead, status_code=201)
def create_campaign(
    body: CampaignCreate, user: Engineer, session: SessionDep, settings: SettingsDep, store: StoreDep
):
    """Create a campaign from a dataset version. Generated candidates are written by the infer worker; the
    campaign is 'generating' until they all are (items whose candidates are ready can be labeled already)."""
    campaign = labeling.create_campaign(session, settings, store, body, user)
    return _read(session, campaign, user)


@router.get("/campaigns", response_model=list[CampaignRead])
def list_campaigns(user: CurrentUser, session: SessionDep):
    """Campaigns the caller may see: a labeler's open campaigns, an engineer's own, all for an admin."""
    return [_read(session, c, user) for c in labeling.list_campaigns(session, user)]


@router.get("/campaigns/{campaign_id}", response_model=CampaignRead)
def get_campaign(campaign_id: ResourceId, user: CurrentUser, session: SessionDep):
    return _read(session, labeling.get_campaign(session, campaign_id, user), user)


@router.patch("/campaigns/{campaign_id}", response_model=CampaignRead)
def update_campaign(
    campaign_id: ResourceId, body: CampaignUpdate, user: Engineer, session: SessionDep, settings: SettingsDep
):
    """Share the campaign with the studio's engineers (to read) or make it private (`visibility`; labelers
    reach a campaign through its labeler list, whatever its visibility), and attach a reward model
    (`reward_job_id`: a succeeded reward job; its scores then order the queue, smallest margin first, once
    the infer worker has scored the candidates) or detach it (null). Its owner or an admin only."""
    return _read(session, labeling.update_campaign(session, settings, campaign_id, user, body), user)


@router.post("/campaigns/{campaign_id}/score", response_model=CampaignRead, status_code=202)
def score_campaign(campaign_id: ResourceId, user: Engineer, session: SessionDep, settings: SettingsDep):
    """Score the candidates again with the attached reward model (e.g. after items were added)."""
    campaign = labeling.changeable_campaign(session, campaign_id, user)
    labeling_rm.submit_scoring(session, settings, campaign, user)
    return _read(session, campaign, user)


@router.post("/campaigns/{campaign_id}/close", response_model=CampaignRead)
def close_campaign(campaign_id: ResourceId, user: Engineer, session: SessionDep):
    campaign = labeling.close_campaign(session, labeling.changeable_campaign(session, campaign_id, user))
    return _read(session, campaign, user)


@router.post("/campaigns/{campaign_id}/next", response_model=Assignment)
def next_item(campaign_id: ResourceId, user: CurrentUser, session: SessionDep, response: Response):
    """The caller's next item: their open assignment, else a newly claimed one. 204 when nothing is left."""
    campaign = labeling.get_campaign(session, campaign_id, user)
    assignment = labeling_queue.next_assignment(session, campaign, user)
    if assignment is None:
        return Response(status_code=204)
    return labeling_queue.view(session, campaign, assignment, labeling.progress(session, campaign, user))


@router.post("/campaigns/{campaign_id}/assignments/{assignment_id}/submit", response_model=LabelRead)
def submit(
    campaign_id: ResourceId,
    assignment_id: ResourceId,
    body: LabelSubmit,
    user: CurrentUser,
    session: SessionDep,
):
    campaign = labeling.get_campaign(session, campaign_id, user)
    assignment = labeling_queue.get_assignment(session, campaign, assignment_id, user)
    return labeling_queue.submit(session, campaign, assignment, body)


@router.put("/campaigns/{campaign_id}/assignments/{assignment_id}/draft", response_model=LabelRead)
def save_draft(
    campaign_id: ResourceId,
    assignment_id: ResourceId,
    body: DraftSave,
    user: CurrentUser,
    session: SessionDep,
):
    campaign = labeling.get_campaign(session, campaign_id, user)
    assignment = labeling_queue.get_assignment(session, campaign, assignment_id, user)
    return labeling_queue.save_draft(session, campaign, assignment, body)


@router.post("/campaigns/{campaign_id}/assignments/{assignment_id}/skip", status_code=204)
def skip(campaign_id: ResourceId, assignment_id: ResourceId, user: CurrentUser, session: SessionDep) -> None:
    campaign = labeling.get_campaign(session, campaign_id, user)
    labeling_queue.skip(session, labeling_queue.get_assignment(session, campaign, assignment_id, user))


@router.get("/campaigns/{campaign_id}/items/{item_id}/labels", response_model=list[LabelRead])
def item_labels(campaign_id: ResourceId, item_id: ResourceId, user: CurrentUser, session: SessionDep):
    """An item's submitted labels; a labeler gets 403 until they have submitted their own for it."""
    campaign = labeling.get_campaign(session, campaign_id, user)
    item = labeling_queue.get_item(session, campaign, item_id)
    return labeling_queue.item_labels(session, campaign, item, user)


@router.post("/campaigns/{campaign_id}/items/{item_id}/ai-labels", response_model=LabelRead, status_code=201)
def add_ai_label(
    campaign_id: ResourceId, item_id: ResourceId, body: AiLabelCreate, user: Engineer, session: SessionDep
):
    """A label from a model acting as judge (RLAIF): kind 'ai', kept apart in agreement figures."""
    campaign = labeling.changeable_campaign(session, campaign_id, user)
    item = labeling_queue.get_item(session, campaign, item_id)
    return labeling_queue.add_ai_label(session, campaign, item, body, user)


@router.put("/campaigns/{campaign_id}/items/{item_id}/gold", status_code=204)
def set_gold(
    campaign_id: ResourceId, item_id: ResourceId, body: list[list[int]], user: Engineer, session: SessionDep
) -> None:
    """Mark an item gold: its right answer as tiers of candidate ids, best first."""
    campaign = labeling.changeable_campaign(session, campaign_id, user)
    labeling.set_gold(session, labeling_queue.get_item(session, campaign, item_id), body)


@router.post("/campaigns/{campaign_id}/items", status_code=201)
def add_items(
    campaign_id: ResourceId, body: list[ItemCreate], user: Engineer, session: SessionDep
) -> list[int]:
    """Add items from a script or the arena (a prompt and K candidates each); returns their ids."""
    campaign = labeling.changeable_campaign(session, campaign_id, user)
    return [item.id for item in labeling.add_items(session, campaign, body)]


@router.get("/campaigns/{campaign_id}/items")
def list_items(campaign_id: ResourceId, user: Engineer, session: SessionDep):
    """Items with their candidates and provenance (which model wrote what): for engineers only."""
    return labeling.item_table(labeling.get_campaign(session, campaign_id, user))


@router.get("/campaigns/{campaign_id}/quality")
def quality(campaign_id: ResourceId, user: Engineer, session: SessionDep) -> dict:
    """Raw pairwise agreement, Krippendorff's alpha, per-labeler Kendall tau and gold accuracy, position and
    length bias; AI-judge labels apart."""
    return labeling_quality.quality(session, labeling.get_campaign(session, campaign_id, user))


@router.post("/campaigns/{campaign_id}/export", response_model=list[DatasetVersionRead], status_code=201)
def export(campaign_id: ResourceId, body: ExportCreate, user: Engineer, session: SessionDep, store: StoreDep):
    """Export the majority labels as a new dataset (409 'low_agreement' under the threshold)."""
    campaign = labeling.changeable_campaign(session, campaign_id, user)
    return labeling_quality.export(session, store, campaign, body, user)


@router.post("/campaigns/{campaign_id}/train", response_model=JobRead, status_code=201)
def train(
    campaign_id: ResourceId,
    body: CampaignTrain,
    user: Engineer,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
):
    """Export the campaign for the spec's method (reward: a train/validation split) and queue the job."""
    campaign = labeling.changeable_campaign(session, campaign_id, user)
    job = labeling_train.train_from_campaign(session, settings, store, campaign, body, user)
    return JobRead.model_validate(job).model_copy(update={"output_model_id": jobs.output_model_id(job)})


@router.post("/arena-export", response_model=list[DatasetVersionRead], status_code=201)
def export_arena(body: ArenaExportCreate, user: Engineer, session: SessionDep, store: StoreDep):
    """Export every decisive arena vote (a or b) as a preference dataset; ties and both-bad give no pair."""
    return labeling_arena.export_arena(session, store, body, user)
