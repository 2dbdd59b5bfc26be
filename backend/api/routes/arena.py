"""The blind arena: battles between two anonymous models, votes, and the leaderboard."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import Engineer, ResourceId, SessionDep, SettingsDep
from backend.schemas.arena import BattleCreate, BattleRead, Leaderboard, VoteCreate
from backend.services import arena

router = APIRouter(prefix="/arena", tags=["arena"])


@router.post("/battles", response_model=BattleRead, status_code=201)
def create_battle(body: BattleCreate, user: Engineer, session: SessionDep, settings: SettingsDep):
    """Two models drawn at random answer the prompt; their names stay hidden until you vote."""
    battle = arena.create_battle(session, settings, body, user)
    return arena.battle_view(session, battle)


@router.get("/battles/{battle_id}", response_model=BattleRead)
def get_battle(battle_id: ResourceId, user: Engineer, session: SessionDep):
    return arena.battle_view(session, arena.get_battle(session, battle_id, user))


@router.post("/battles/{battle_id}/vote", response_model=BattleRead)
def vote(battle_id: ResourceId, body: VoteCreate, user: Engineer, session: SessionDep):
    """Vote a, b, tie or both_bad; the answer reveals which model wrote which answer."""
    battle = arena.vote(session, battle_id, user, body.vote)
    return arena.battle_view(session, battle)


@router.get("/leaderboard", response_model=Leaderboard)
def leaderboard(user: Engineer, session: SessionDep):
    """Models by Bradley–Terry score over every vote, with 95 % bootstrap intervals (models you may see)."""
    return arena.leaderboard(session, user)
