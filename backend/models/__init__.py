"""ORM models, one module per aggregate. Importing this package registers every table on Base.metadata."""

from backend.models.arena import ArenaBattle
from backend.models.datasets import Dataset, DatasetVersion
from backend.models.evaluation import EvaluationRow
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
from backend.models.users import ApiToken, LoginAttempt, Role, User

__all__ = [
    "ApiToken",
    "ArenaBattle",
    "BaseModel",
    "Checkpoint",
    "Dataset",
    "DatasetVersion",
    "EvaluationRow",
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
    "LoginAttempt",
    "ModelSource",
    "Role",
    "User",
    "Worker",
]
