"""50 labelers asking for items and submitting at once, through the REST API on loopback (a real uvicorn
server in this process), on SQLite and on the real PostgreSQL: no label lost, none counted twice, overlap
respected."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from backend import migrate
from backend.app import create_app
from backend.config import Settings
from backend.db import session_scope
from backend.models.labeling import LabelingAssignment, LabelingItem, LabelingLabel
from backend.models.users import Role
from backend.services import users
from tests.factories import preference_pairs
from tests.stack import create_postgres_database, drop_postgres_database, free_port

LABELERS, ITEMS, OVERLAP = 50, 30, 3

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request, tmp_path):
    database_url = create_postgres_database() if request.param == "postgresql" else None
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    settings.ensure_dirs()
    migrate.upgrade(settings.database_url)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield settings, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        if database_url:
            drop_postgres_database(database_url)


def _tokens(settings: Settings) -> tuple[str, list[str]]:
    with session_scope(settings.database_url) as session:
        engineer, _ = users.create_user(session, "eng", Role.engineer, "engineer-pass")
        eng_token = users.issue_token(session, engineer)
        tokens = []
        for i in range(LABELERS):
            labeler, _ = users.create_user(session, f"labeler{i}", Role.labeler, "labeler-pass")
            tokens.append(users.issue_token(session, labeler))
    return eng_token, tokens


def _complete(url: str, eng_token: str, campaign_id: int) -> bool:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {eng_token}"}, timeout=120) as eng:
        progress = eng.get(f"/api/labeling/campaigns/{campaign_id}").json()["progress"]
    return progress["complete_items"] == ITEMS


def _work(url: str, token: str, eng_token: str, campaign_id: int, index: int) -> list[dict]:
    """Label until the campaign is complete; skip every 4th item handed out (its slot goes back to the pool).

    "Nothing for you now" (204) while the campaign is incomplete means the open slots are claimed by others;
    one of them may still skip and free a slot this labeler has not seen, so look again shortly (bounded)."""
    done = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
        handed, deadline = 0, time.monotonic() + 120
        while True:
            got = http.post(f"/api/labeling/campaigns/{campaign_id}/next")
            if got.status_code == 204:
                if _complete(url, eng_token, campaign_id) or time.monotonic() > deadline:
                    return done
                time.sleep(0.2)
                continue
            assert got.status_code == 200, got.text
            item = got.json()
            handed += 1
            base = f"/api/labeling/campaigns/{campaign_id}/assignments/{item['assignment_id']}"
            if (handed + index) % 4 == 0:
                assert http.post(f"{base}/skip").status_code == 204
                continue
            sent = http.post(f"{base}/submit", json={"answer": {"choice": "A"}})
            assert sent.status_code == 200, sent.text
            done.append(
                {"item": item["item_id"], "assignment": item["assignment_id"], "label": sent.json()["id"]}
            )


def test_fifty_labelers_at_once(server):
    settings, url = server
    eng_token, tokens = _tokens(settings)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {eng_token}"}, timeout=120) as eng:
        rows = "\n".join(json.dumps(r) for r in preference_pairs(ITEMS, seed=7)).encode()
        version = eng.post("/api/datasets", files={"file": ("p.jsonl", rows)}, data={"name": "p"}).json()
        body = {"name": "load", "version_id": version["versions"][0]["id"], "overlap": OVERLAP}
        campaign = eng.post("/api/labeling/campaigns", json=body).json()
        with ThreadPoolExecutor(LABELERS) as pool:
            results = list(
                pool.map(lambda a: _work(url, a[1], eng_token, campaign["id"], a[0]), enumerate(tokens))
            )
        progress = eng.get(f"/api/labeling/campaigns/{campaign['id']}").json()["progress"]

    submitted = [r for labeler in results for r in labeler]
    assert len(submitted) == ITEMS * OVERLAP
    assert len({r["label"] for r in submitted}) == len(submitted)
    for labeler in results:  # nobody labeled an item twice
        assert len({r["item"] for r in labeler}) == len(labeler)
    assert set(Counter(r["item"] for r in submitted).values()) == {OVERLAP}
    assert progress["labels"] == ITEMS * OVERLAP and progress["complete_items"] == ITEMS

    with session_scope(settings.database_url) as session:
        stored = set(
            session.scalars(select(LabelingLabel.assignment_id).where(LabelingLabel.draft.is_(False)))
        )
        assert stored == {r["assignment"] for r in submitted}  # every acknowledged label is stored, no other
        live = dict(
            session.execute(
                select(LabelingAssignment.item_id, func.count())
                .where(LabelingAssignment.skipped.is_(False))
                .group_by(LabelingAssignment.item_id)
            ).all()
        )
        counters = dict(session.execute(select(LabelingItem.id, LabelingItem.assigned_count)).all())
        assert live == counters and set(counters.values()) == {OVERLAP}
