"""ORM models, one module per aggregate. Importing this package registers every table on Base.metadata."""

from backend.models.datasets import Dataset, DatasetVersion
from backend.models.inference import InferenceRequest, InferenceStatus
from backend.models.jobs import Checkpoint, Job, JobEvent, JobMetric, JobStatus, Worker
from backend.models.labeling import (
    LabelingAssignment,
    LabelingCampaign,
    LabelingCandidate,
    LabelingExport,
    LabelingItem,
    LabelingLabel,
)
from backend.models.registry import BaseModel, ModelSource
from backend.models.users import ApiToken, Role, User

__all__ = [
    "ApiToken",
    "BaseModel",
    "Checkpoint",
    "Dataset",
    "DatasetVersion",
    "InferenceRequest",
    "InferenceStatus",
    "Job",
    "JobEvent",
    "JobMetric",
    "JobStatus",
    "LabelingAssignment",
    "LabelingCampaign",
    "LabelingCandidate",
    "LabelingExport",
    "LabelingItem",
    "LabelingLabel",
    "ModelSource",
    "Role",
    "User",
    "Worker",
]
