"""Liveness and readiness: the database answers, and which workers are online on which device."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.services.jobs import live_workers, target_device


def status(session: Session, settings: Settings) -> dict:
    session.execute(text("SELECT 1"))
    return {
        "status": "ok",
        "database": settings.database_url.split(":", 1)[0],
        "training_device": target_device(session, settings),
        "workers": [
            {
                "id": w.id,
                "queues": w.queues,
                "device": w.device,
                "bf16": bool(w.bf16),
                "peak_flops": w.peak_flops,  # measured peak matmul FLOP/s by precision: MFU's denominator
                "last_seen": w.last_seen.isoformat(),
            }
            for w in live_workers(session, settings)
        ],
    }
