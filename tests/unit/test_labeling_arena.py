"""Arena votes feed labeling: decisive votes (a or b) become preference pairs exported as a dataset version
through the labeling export; ties and both-bad give no pair."""

from __future__ import annotations

from sqlalchemy import select

from backend.db import session_scope, utcnow
from backend.models.arena import ArenaBattle
from backend.models.inference import InferenceRequest, InferenceStatus
from backend.models.registry import BaseModel
from backend.models.users import Role, User
from backend.services import registry, users


def _battles(settings, api, tiny_model_dir, votes: list[str | None], voter: str = "eng") -> list[int]:
    """One finished battle per vote (by `voter`), model A answering 'A answer i' and model B 'B answer i'."""
    with session_scope(settings.database_url) as session:
        user_id = session.scalar(select(User.id).where(User.username == voter))
        other = session.scalar(select(BaseModel.id).where(BaseModel.name == "tiny-b"))
        if other is None:
            other = registry.register_model(session, "tiny-b", tiny_model_dir, settings=settings).id
        ids = []
        for i, vote in enumerate(votes):
            outputs = [
                {"model_id": api.model_id, "text": f"A answer {i}"},
                {"model_id": other, "text": f"B {i}"},
            ]
            request = InferenceRequest(
                kind="generate", status=InferenceStatus.succeeded, payload={}, result={"outputs": outputs}
            )
            session.add(request)
            session.flush()
            battle = ArenaBattle(
                user_id=user_id,
                prompt=f"question {i}",
                model_a_id=api.model_id,
                model_b_id=other,
                request_id=request.id,
                vote=vote,
                voted_at=utcnow() if vote else None,
            )
            session.add(battle)
            session.flush()
            ids.append(battle.id)
        session.commit()
    return ids


def test_decisive_arena_votes_export_as_preference_pairs(settings, api, tiny_model_dir):
    battle_ids = _battles(settings, api, tiny_model_dir, ["a", "b", "tie", "both_bad", None])

    exported = api.post("/api/labeling/arena-export", json={"name": "arena-prefs"})

    assert exported.status_code == 201, exported.text
    (version,) = exported.json()
    assert version["format"] == "preference" and version["row_count"] == 2
    rows = api.get(f"/api/datasets/versions/{version['id']}/rows").json()["rows"]
    assert [r["battle_id"] for r in rows] == battle_ids[:2]
    assert rows[0]["prompt"] == [{"role": "user", "content": "question 0"}]
    assert rows[0]["chosen"][0]["content"] == "A answer 0" and rows[0]["rejected"][0]["content"] == "B 0"
    assert rows[1]["chosen"][0]["content"] == "B 1" and rows[1]["rejected"][0]["content"] == "A answer 1"


def test_arena_export_without_decisive_votes_is_refused_and_stores_nothing(settings, api, tiny_model_dir):
    _battles(settings, api, tiny_model_dir, ["tie", "both_bad"])

    refused = api.post("/api/labeling/arena-export", json={"name": "arena-prefs"})

    assert refused.status_code == 422, refused.text
    assert "no decisive votes" in refused.json()["message"]
    assert all(d["name"] != "arena-prefs" for d in api.get("/api/datasets").json())


def test_arena_export_name_taken_is_a_conflict(settings, api, tiny_model_dir):
    _battles(settings, api, tiny_model_dir, ["a"])
    assert api.post("/api/labeling/arena-export", json={"name": "arena-prefs"}).status_code == 201

    again = api.post("/api/labeling/arena-export", json={"name": "arena-prefs"})

    assert again.status_code == 409, again.text


def test_an_engineer_exports_only_their_own_votes(settings, api, tiny_model_dir):
    """A battle's prompt is its voter's: another engineer's decisive votes stay out of the export."""
    with session_scope(settings.database_url) as session:
        users.create_user(session, "eve", Role.engineer, "engineer-pass")
    _battles(settings, api, tiny_model_dir, ["a", "b"], voter="eve")
    _battles(settings, api, tiny_model_dir, ["a"])

    exported = api.post("/api/labeling/arena-export", json={"name": "mine"})

    assert exported.status_code == 201, exported.text
    rows = api.get(f"/api/datasets/versions/{exported.json()[0]['id']}/rows").json()["rows"]
    assert [r["prompt"][0]["content"] for r in rows] == ["question 0"]
