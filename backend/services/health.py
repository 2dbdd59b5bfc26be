"""Liveness and readiness: the database answers, which device training would use, which workers are live."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.services.jobs import live_workers, target_device


def health(session: Session, settings: Settings) -> dict:
    session.execute(text("SELECT 1"))
    return {
        "status": "ok",
        "database": settings.database_url.split(":", 1)[0],
        "training_device": target_device(session, settings),
        "workers": [
            {"id": w.id, "queues": w.queues, "device": w.device, "last_seen": w.last_seen.isoformat()}
            for w in live_workers(session, settings)
        ],
    }
