"""The blind arena: draw two models at random, let both answer the same prompt on the inference worker, take
the user's vote, and rank models by Bradley–Terry over every vote (with bootstrap intervals).

Votes are preference records: which answer a person preferred for a prompt. They are kept whole (prompt, both
answers, the vote) so the labeling work can export them as training pairs.
"""

from __future__ import annotations

import random
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import stats
from backend.config import Settings
from backend.db import utcnow
from backend.models.arena import ArenaBattle
from backend.models.inference import InferenceRequest, InferenceStatus
from backend.models.users import Role, User
from backend.schemas.arena import BattleCreate
from backend.schemas.inference import GenerationCreate
from backend.services import inference, registry
from backend.services.errors import Conflict, Invalid, NotFound
from backend.services.evaluations import is_reward_model

_draw = random.SystemRandom()


def _pool(session: Session, data: BattleCreate, user: User) -> list[int]:
    """The models a battle draws from: those named, or every language model `user` may see."""
    if data.model_ids:
        ids = list(dict.fromkeys(data.model_ids))
        for i, model_id in enumerate(ids):
            model = registry.get_model(session, model_id, user, field=f"model_ids[{i}]")
            if is_reward_model(session, model):
                raise Invalid(
                    f"model {model_id} ({model.name}) is a reward model: it scores answers, it does not "
                    "write them",
                    details={"field": f"model_ids[{i}]", "value": model_id},
                )
    else:
        ids = [m.id for m in registry.list_models(session, user) if not is_reward_model(session, m)]
    if len(ids) < 2:
        raise Invalid("the arena needs at least two language models", details={"field": "model_ids"})
    return ids


def create_battle(session: Session, settings: Settings, data: BattleCreate, user: User) -> ArenaBattle:
    """Two distinct models drawn at random from the pool answer the prompt (one generation request)."""
    model_a, model_b = _draw.sample(_pool(session, data, user), 2)
    params = data.model_dump(exclude={"prompt", "model_ids"})
    request = inference.submit_generation(
        session, settings, GenerationCreate(model_ids=[model_a, model_b], prompt=data.prompt, **params), user
    )
    battle = ArenaBattle(
        user_id=user.id, prompt=data.prompt, model_a_id=model_a, model_b_id=model_b, request_id=request.id
    )
    session.add(battle)
    session.commit()
    return battle


def get_battle(session: Session, battle_id: int, user: User) -> ArenaBattle:
    """A battle is its voter's own (admins see all): 404 for anyone else's."""
    battle = session.get(ArenaBattle, battle_id)
    if battle is None or (battle.user_id != user.id and user.role != Role.admin):
        raise NotFound(f"battle {battle_id} not found", details={"field": "battle_id", "value": battle_id})
    return battle


def battle_view(session: Session, battle: ArenaBattle) -> dict:
    """What the voter sees: anonymous answers until the vote, then the names."""
    request = session.get(InferenceRequest, battle.request_id)
    view = {"id": battle.id, "prompt": battle.prompt, "vote": battle.vote, "created_at": battle.created_at}
    if request.status == InferenceStatus.failed:
        return {**view, "status": "failed", "error": request.error}
    if request.status != InferenceStatus.succeeded:
        return {**view, "status": "generating"}
    outputs = (request.result or {}).get("outputs", [])
    view.update(answer_a=outputs[0]["text"], answer_b=outputs[1]["text"], status="ready")
    if battle.vote:
        names = {
            m.id: m.name
            for m in (
                registry.get_model(session, battle.model_a_id),
                registry.get_model(session, battle.model_b_id),
            )
        }
        view.update(status="voted", model_a=names[battle.model_a_id], model_b=names[battle.model_b_id])
    return view


def vote(session: Session, battle_id: int, user: User, choice: str) -> ArenaBattle:
    battle = get_battle(session, battle_id, user)
    if battle.user_id != user.id:
        raise Conflict("only the person who saw the answers can vote on them", code="not_your_battle")
    if battle.vote:
        raise Conflict(f"battle {battle_id} already has a vote ({battle.vote})", code="already_voted")
    if battle_view(session, battle)["status"] != "ready":
        raise Conflict(f"battle {battle_id} has no answers to vote on yet", code="not_ready")
    battle.vote, battle.voted_at = choice, utcnow()
    session.commit()
    return battle


def leaderboard(session: Session, user: User | None = None) -> dict:
    """Models ranked by Bradley–Terry over decisive votes (a, b); ties and both-bad count as battles. Every
    vote counts in the fit; the rows list only the models `user` may see."""
    battles = list(session.scalars(select(ArenaBattle).where(ArenaBattle.vote.is_not(None))))
    ids = sorted({b.model_a_id for b in battles} | {b.model_b_id for b in battles})
    index = {model_id: i for i, model_id in enumerate(ids)}
    pairs, fought, won = [], Counter(), Counter()
    for b in battles:
        fought.update((b.model_a_id, b.model_b_id))
        if b.vote in ("a", "b"):
            winner, loser = (b.model_a_id, b.model_b_id) if b.vote == "a" else (b.model_b_id, b.model_a_id)
            won[winner] += 1
            pairs.append((index[winner], index[loser]))
    names = {m_id: registry.get_model(session, m_id).name for m_id in ids}
    visible = {m.id for m in registry.list_models(session, user)}
    board = stats.bradley_terry([str(m) for m in ids], pairs)
    rows = [
        {
            "model_id": int(r["name"]),
            "name": names[int(r["name"])],
            "score": r["score"],
            "low": r["low"],
            "high": r["high"],
            "battles": fought[int(r["name"])],
            "wins": won[int(r["name"])],
        }
        for r in board
        if int(r["name"]) in visible
    ]
    return {"rows": rows, "votes": len(battles), "decisive_votes": len(pairs)}
