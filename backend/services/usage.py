"""Who uses a dataset version: the one question deletion asks before data a job trained on could vanish.

    usages_of_version(session, [3, 4])  # -> [Usage(kind="job", id=7, name="sft-tiny", version_id=3)]

Each kind of user (jobs today; campaigns and evaluations when they exist) registers one finder in
USAGE_FINDERS: a function (session, version ids) -> its usages. Deletion asks every finder, so a new kind
of user is protected by adding one function, not by editing each delete path.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models.datasets import DatasetVersion
from backend.models.jobs import Job
from backend.models.labeling import LabelingCampaign
from backend.models.ownership import Visibility


@dataclass(frozen=True)
class Usage:
    """One user of a dataset version: its kind (job, campaign, evaluation, dataset_version), id and name, and
    whose it is (owner and visibility, so a refusal names only what its reader may see)."""

    kind: str
    id: int
    name: str
    version_id: int
    owner_id: int | None = None
    visibility: Visibility = Visibility.shared

    def describe(self) -> str:
        return f"{self.kind} {self.id} ('{self.name}') uses version {self.version_id}"

    def public(self) -> dict:
        return {"kind": self.kind, "id": self.id, "name": self.name, "version_id": self.version_id}


def _job_usages(session: Session, version_ids: Collection[int]) -> Iterable[Usage]:
    """Jobs that train or evaluate on a version. `Job.datasets` is a JSON list of {"version_id", "weight"}:
    JSON containment differs between SQLite and PostgreSQL, so the (small) id columns are matched here."""
    wanted = set(version_ids)
    columns = (Job.id, Job.name, Job.datasets, Job.eval_dataset_version_id, Job.owner_id, Job.visibility)
    rows = session.execute(select(*columns).order_by(Job.id))
    for job_id, name, refs, eval_id, owner_id, visibility in rows:
        used = {ref.get("version_id") for ref in refs or () if isinstance(ref, dict)} | {eval_id}
        for version_id in sorted(used & wanted):
            yield Usage("job", job_id, name, version_id, owner_id, visibility)


def _derived_versions(session: Session, version_ids: Collection[int]) -> Iterable[Usage]:
    """Versions made from these ones that live in another dataset (within one dataset they go together)."""
    parents = select(DatasetVersion.dataset_id).where(DatasetVersion.id.in_(version_ids))
    children = session.scalars(
        select(DatasetVersion).where(
            DatasetVersion.parent_id.in_(version_ids), DatasetVersion.dataset_id.not_in(parents)
        )
    )
    for child in children:
        dataset = child.dataset
        name = f"{dataset.name} v{child.version}"
        yield Usage("dataset_version", child.id, name, child.parent_id, dataset.owner_id, dataset.visibility)


def _campaign_usages(session: Session, version_ids: Collection[int]) -> Iterable[Usage]:
    """Labeling campaigns whose prompts come from a version: their items point back at its rows."""
    columns = (
        LabelingCampaign.id,
        LabelingCampaign.name,
        LabelingCampaign.source_version_id,
        LabelingCampaign.owner_id,
        LabelingCampaign.visibility,
    )
    rows = session.execute(
        select(*columns)
        .where(LabelingCampaign.source_version_id.in_(version_ids))
        .order_by(LabelingCampaign.id)
    )
    for campaign_id, name, version_id, owner_id, visibility in rows:
        yield Usage("campaign", campaign_id, name, version_id, owner_id, visibility)


UsageFinder = Callable[[Session, Collection[int]], Iterable[Usage]]
#: every kind of user of a dataset version (evaluations are jobs, so _job_usages finds them)
USAGE_FINDERS: list[UsageFinder] = [_job_usages, _derived_versions, _campaign_usages]


def usages_of_version(session: Session, version_ids: Collection[int]) -> list[Usage]:
    """Everything that uses any of ``version_ids`` (empty when they can go)."""
    if not version_ids:
        return []
    return [usage for finder in USAGE_FINDERS for usage in finder(session, version_ids)]


__all__ = ["USAGE_FINDERS", "Usage", "usages_of_version"]
