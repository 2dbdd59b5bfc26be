"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import SessionDep, SettingsDep
from backend.services import health as health_service

router = APIRouter(tags=["health"])


@router.get("/health")
def health(session: SessionDep, settings: SettingsDep) -> dict:
    return health_service.health(session, settings)
