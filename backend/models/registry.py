"""The base-model registry: bundled, local-folder and job-produced models that jobs can start from."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import NEVER_REUSE_IDS, Base, utcnow
from backend.models.ownership import Visibility, visibility_column


class ModelSource(enum.StrEnum):
    bundled = "bundled"
    local = "local"
    job = "job"


class BaseModel(Base):
    __tablename__ = "base_models"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[ModelSource] = mapped_column(Enum(ModelSource, native_enum=False, length=16))
    # A folder in Hugging Face layout (config.json, weights, tokenizer), stored in a form of backend.storage:
    # relative to the artifact store or AFINA_HOME/models, absolute only outside the studio's data.
    path: Mapped[str] = mapped_column(String(1024))
    architecture: Mapped[str | None] = mapped_column(String(128))
    num_parameters: Mapped[int | None]
    # Model config.json as read at registration: the API estimates memory from it without loading torch.
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # For source=job: the folder is an adapter (or merged model) trained on `parent_model_id`.
    parent_model_id: Mapped[int | None] = mapped_column(ForeignKey("base_models.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", use_alter=True))
    is_adapter: Mapped[bool] = mapped_column(default=False)
    # Base models (registered by an admin or the CLI) are shared; a job's output inherits the job's owner and
    # visibility. None: owned by nobody, changed by admins only.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    visibility: Mapped[Visibility] = visibility_column(Visibility.shared)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
