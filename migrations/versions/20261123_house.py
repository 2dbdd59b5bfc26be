"""Stored model paths become relative to the studio's data folder (data only, no schema change).

The registry, job results and queued inference payloads held absolute paths, so a moved AFINA_HOME broke every
model. Upgrade rewrites them in the forms of backend.storage: relative to the artifact store, `models:<name>`
under AFINA_HOME/models, absolute only for folders outside the studio's data. A path under an older place of
the data folder (moved before this migration) is recognised by its tail when that tail exists here.

Revision ID: house01
Revises: 77b92fa567f5
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from backend.config import get_settings

revision = "house01"
down_revision = "auth01"
branch_labels = None
depends_on = None

MODELS_PREFIX = "models:"  # as in backend.storage, copied so this migration keeps its meaning

base_models = sa.table("base_models", sa.column("id", sa.Integer), sa.column("path", sa.String))
jobs = sa.table("jobs", sa.column("id", sa.Integer), sa.column("result", sa.JSON))
requests = sa.table("inference_requests", sa.column("id", sa.Integer), sa.column("payload", sa.JSON))


def _dirs() -> tuple[Path, Path]:
    settings = get_settings()
    return Path(settings.artifacts_dir).resolve(), Path(settings.models_dir).resolve()


def to_relative(path: str) -> str:
    if not path or not Path(path).is_absolute():
        return path
    artifacts, models = _dirs()
    full = Path(path)
    if full.is_relative_to(artifacts):
        return full.relative_to(artifacts).as_posix()
    if full.is_relative_to(models):
        return MODELS_PREFIX + full.relative_to(models).as_posix()
    if not full.exists():  # the data folder moved before this migration: match the tail of the old path
        parts = full.parts
        for i in range(len(parts) - 2, 0, -1):
            tail = Path(*parts[i + 1 :])
            if parts[i] == artifacts.name and (artifacts / tail).exists():
                return tail.as_posix()
            if parts[i] == models.name and (models / tail).exists():
                return MODELS_PREFIX + tail.as_posix()
    return path


def to_absolute(path: str) -> str:
    if not path or Path(path).is_absolute():
        return path
    artifacts, models = _dirs()
    if path.startswith(MODELS_PREFIX):
        return str(models / path.removeprefix(MODELS_PREFIX))
    return str(artifacts / path)


def _result(result: dict | None, convert: Callable[[str], str]) -> dict | None:
    if not result:
        return result
    return {k: convert(v) if k in ("model_dir", "merged_dir") and v else v for k, v in result.items()}


def _payload(payload: dict | None, convert: Callable[[str], str]) -> dict | None:
    if not payload:
        return payload
    out = {k: convert(v) if k in ("rows_path", "tokenizer_path") and v else v for k, v in payload.items()}
    if isinstance(out.get("models"), list):
        out["models"] = [
            {k: convert(v) if k in ("path", "base_path") and v else v for k, v in m.items()}
            for m in out["models"]
        ]
    return out


def _rewrite(convert: Callable[[str], str]) -> None:
    conn = op.get_bind()
    for row in conn.execute(sa.select(base_models.c.id, base_models.c.path)).all():
        if convert(row.path) != row.path:
            conn.execute(
                base_models.update().where(base_models.c.id == row.id).values(path=convert(row.path))
            )
    for row in conn.execute(sa.select(jobs.c.id, jobs.c.result)).all():
        new = _result(row.result, convert)
        if new != row.result:
            conn.execute(jobs.update().where(jobs.c.id == row.id).values(result=new))
    for row in conn.execute(sa.select(requests.c.id, requests.c.payload)).all():
        new = _payload(row.payload, convert)
        if new != row.payload:
            conn.execute(requests.update().where(requests.c.id == row.id).values(payload=new))


def upgrade() -> None:
    _rewrite(to_relative)


def downgrade() -> None:
    _rewrite(to_absolute)
