"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from backend.api.deps import SessionDep, SettingsDep
from backend.services.jobs import live_workers, target_device

router = APIRouter(tags=["health"])


@router.get("/health")
def health(session: SessionDep, settings: SettingsDep) -> dict:
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
