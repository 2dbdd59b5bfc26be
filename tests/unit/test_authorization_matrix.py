"""The authorization matrix: every route of the app × every role × a private and a shared owner's row.

Each route needs a rule in RULES (a new route without one fails `test_every_route_has_a_rule`). A rule names
who may call the route; for routes on one row it also says how the row's owner and visibility count:

- public: anybody, even without a token
- user: any logged-in user
- engineer: engineers and admins (labelers 403)
- admin: admins only (everyone else 403)
- read: engineers see their own and shared rows; another engineer gets 404 on a private row
- change: as read, and another engineer gets 403 on a shared row (seen, not theirs)
- private: the owner's alone (generations, arena battles): 404 for any other engineer
- token: the caller's own token (admins: anyone's): 404 for the others
- campaign_read: labelers see open campaigns (their labeler list decides); engineers as `read`
- assignee: the labeler holding the assignment; 404 for everybody else
- item_labels: as campaign_read, but a labeler who has not labeled the item yet gets 403
- cookie: the browser's session cookie alone; a bearer token is not one, so every role here gets 401

"ok" means the route let the caller through: any answer but 401, 403, 404 and 5xx (a 409 or 422 about the
request's content is the route working). No route may answer 5xx in any cell.
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend import migrate
from backend.api import ui_gate
from backend.app import create_app
from backend.config import Settings
from backend.db import session_scope, utcnow
from backend.models.arena import ArenaBattle
from backend.models.inference import InferenceRequest
from backend.models.jobs import Job, JobStatus
from backend.models.labeling import LabelingItem
from backend.models.ownership import Visibility
from backend.models.registry import ModelSource
from backend.models.users import Role, User
from backend.schemas.labeling import CampaignCreate
from backend.services import datasets, labeling, labeling_queue, registry, users
from backend.storage import ArtifactStore
from tests.factories import preference_pairs

ROLES = ("admin", "owner", "other", "labeler", "none")
OK = "ok"
PASSWORD = "matrix-password-1"


@dataclass(frozen=True)
class Rule:
    kind: str
    body: Any = None  # a function of the world's ids -> request keyword arguments


def _json(value):
    return lambda ids: {"json": value(ids) if callable(value) else value}


def _upload(ids):
    rows = "".join(json.dumps(r) + "\n" for r in preference_pairs(3, seed=1)).encode()
    return {"files": {"file": ("p.jsonl", rows)}, "data": {"name": f"up-{uuid.uuid4().hex[:8]}"}}


def _openai_upload(ids):
    rows = "".join(json.dumps(r) + "\n" for r in preference_pairs(3, seed=1)).encode()
    return {"files": {"file": ("p.jsonl", rows)}, "data": {"purpose": "fine-tune"}}


VIS = _json(lambda ids: {"visibility": ids["visibility"]})
SPEC = {"method": "reward", "training": {"max_steps": 1, "batch_size": 2, "max_length": 64}}

RULES: dict[tuple[str, str], Rule] = {
    # the app's own pages
    ("GET", "/"): Rule("public"),
    ("GET", "/openapi.json"): Rule("public"),
    ("GET", "/docs"): Rule("public"),
    ("GET", "/docs/oauth2-redirect"): Rule("public"),
    ("GET", "/redoc"): Rule("public"),
    ("GET", "/api/health"): Rule("public"),
    # auth
    ("POST", "/api/auth/login"): Rule("public", _json({"username": "owner", "password": PASSWORD})),
    ("POST", "/api/auth/logout"): Rule("user"),
    ("GET", "/api/auth/me"): Rule("user"),
    ("POST", "/api/auth/tokens"): Rule("user", _json({"name": "script"})),
    ("GET", "/api/auth/tokens"): Rule("user"),
    ("DELETE", "/api/auth/tokens/{token_id}"): Rule("token"),
    ("GET", "/api/users"): Rule("admin"),
    ("POST", "/api/users"): Rule("admin", _json(lambda ids: {"username": f"u{uuid.uuid4().hex[:8]}"})),
    ("POST", "/api/auth/ui-ticket"): Rule("user"),
    ("POST", "/api/auth/ui-session"): Rule("public", _json(lambda ids: {"ticket": ids["ticket"]})),
    ("DELETE", "/api/auth/ui-session"): Rule("public"),
    ("GET", "/api/auth/ui-session"): Rule("cookie"),
    # datasets
    ("POST", "/api/datasets"): Rule("engineer", _upload),
    ("GET", "/api/datasets"): Rule("engineer"),
    ("GET", "/api/datasets/{dataset_id}"): Rule("read"),
    ("PATCH", "/api/datasets/{dataset_id}"): Rule("change", VIS),
    ("DELETE", "/api/datasets/{dataset_id}"): Rule("change"),
    ("POST", "/api/datasets/{dataset_id}/archive"): Rule("change"),
    ("POST", "/api/datasets/{dataset_id}/unarchive"): Rule("change"),
    ("GET", "/api/datasets/versions/{version_id}"): Rule("read"),
    ("GET", "/api/datasets/versions/{version_id}/rows"): Rule("read"),
    ("POST", "/api/datasets/versions/{version_id}/operations"): Rule("change", _json({"op": "dedup_exact"})),
    ("GET", "/api/datasets/versions/{version_id}/export"): Rule("read"),
    ("POST", "/api/datasets/versions/{version_id}/preview"): Rule(
        "read", _json(lambda ids: {"model_id": ids["base_model_id"]})
    ),
    ("POST", "/api/datasets/versions/{version_id}/profile"): Rule(
        "read", _json(lambda ids: {"model_id": ids["base_model_id"]})
    ),
    # jobs and evaluations (an evaluation is a job: its visibility is the job's)
    ("POST", "/api/jobs"): Rule("engineer", _json({})),
    ("GET", "/api/jobs"): Rule("engineer"),
    ("GET", "/api/jobs/{job_id}"): Rule("read"),
    ("PATCH", "/api/jobs/{job_id}"): Rule("change", VIS),
    ("GET", "/api/jobs/{job_id}/events"): Rule("read"),
    ("GET", "/api/jobs/{job_id}/checkpoints"): Rule("read"),
    ("POST", "/api/jobs/{job_id}/cancel"): Rule("change"),
    ("POST", "/api/jobs/{job_id}/pause"): Rule("change"),
    ("POST", "/api/jobs/{job_id}/resume"): Rule("change"),
    ("GET", "/api/runs/compare"): Rule("read"),
    ("POST", "/api/evaluations"): Rule("engineer", _json({})),
    ("GET", "/api/evaluations"): Rule("engineer"),
    ("GET", "/api/evaluations/{evaluation_id}"): Rule("read"),
    ("GET", "/api/evaluations/{evaluation_id}/rows"): Rule("read"),
    ("GET", "/api/evaluations/{evaluation_id}/export"): Rule("read"),
    # models
    ("GET", "/api/models"): Rule("engineer"),
    ("POST", "/api/models"): Rule("admin", _json({})),
    ("GET", "/api/models/{model_id}"): Rule("read"),
    ("PATCH", "/api/models/{model_id}"): Rule("change", VIS),
    # generation and the arena: a prompt is its writer's alone
    ("POST", "/api/generations"): Rule("engineer", _json({})),
    ("GET", "/api/generations/{request_id}"): Rule("private"),
    ("POST", "/api/arena/battles"): Rule("engineer", _json({})),
    ("GET", "/api/arena/battles/{battle_id}"): Rule("private"),
    ("POST", "/api/arena/battles/{battle_id}/vote"): Rule("private", _json({"vote": "a"})),
    ("GET", "/api/arena/leaderboard"): Rule("engineer"),
    # labeling
    ("POST", "/api/labeling/campaigns"): Rule("engineer", _json({})),
    ("GET", "/api/labeling/campaigns"): Rule("user"),
    ("GET", "/api/labeling/campaigns/{campaign_id}"): Rule("campaign_read"),
    ("PATCH", "/api/labeling/campaigns/{campaign_id}"): Rule("change", VIS),
    ("POST", "/api/labeling/campaigns/{campaign_id}/close"): Rule("change"),
    ("POST", "/api/labeling/campaigns/{campaign_id}/next"): Rule("campaign_read"),
    ("POST", "/api/labeling/campaigns/{campaign_id}/assignments/{assignment_id}/submit"): Rule(
        "assignee", _json({"answer": {"choice": "A"}})
    ),
    ("PUT", "/api/labeling/campaigns/{campaign_id}/assignments/{assignment_id}/draft"): Rule(
        "assignee", _json({"answer": {"choice": "A"}})
    ),
    ("POST", "/api/labeling/campaigns/{campaign_id}/assignments/{assignment_id}/skip"): Rule("assignee"),
    ("GET", "/api/labeling/campaigns/{campaign_id}/items/{item_id}/labels"): Rule("item_labels"),
    ("POST", "/api/labeling/campaigns/{campaign_id}/items/{item_id}/ai-labels"): Rule(
        "change", _json({"answer": {"choice": "A"}, "judge": "a judge"})
    ),
    ("PUT", "/api/labeling/campaigns/{campaign_id}/items/{item_id}/gold"): Rule(
        "change", _json(lambda ids: [[c] for c in ids["candidate_ids"]])
    ),
    ("POST", "/api/labeling/campaigns/{campaign_id}/items"): Rule("change", _json([])),
    ("GET", "/api/labeling/campaigns/{campaign_id}/items"): Rule("read"),
    ("GET", "/api/labeling/campaigns/{campaign_id}/quality"): Rule("read"),
    ("POST", "/api/labeling/campaigns/{campaign_id}/export"): Rule("change", _json({})),
    ("POST", "/api/labeling/campaigns/{campaign_id}/train"): Rule(
        "change", _json(lambda ids: {"base_model_id": ids["base_model_id"], "spec": SPEC})
    ),
    ("POST", "/api/labeling/campaigns/{campaign_id}/score"): Rule("change"),
    ("POST", "/api/labeling/arena-export"): Rule("engineer", _json({})),
    # data generation runs are jobs: a run's visibility is its job's
    ("POST", "/api/datagen"): Rule("engineer", _json({})),
    ("GET", "/api/datagen"): Rule("engineer"),
    ("GET", "/api/datagen/constitution"): Rule("engineer"),
    ("GET", "/api/datagen/{datagen_id}"): Rule("read"),
    # the OpenAI-compatible surface: the same rows under OpenAI's ids, the same rules
    ("POST", "/v1/files"): Rule("engineer", _openai_upload),
    ("GET", "/v1/files"): Rule("engineer"),
    ("GET", "/v1/files/{file_id}"): Rule("read"),
    ("DELETE", "/v1/files/{file_id}"): Rule("change"),
    ("GET", "/v1/files/{file_id}/content"): Rule("read"),
    ("POST", "/v1/fine_tuning/jobs"): Rule("engineer", _json({})),
    ("GET", "/v1/fine_tuning/jobs"): Rule("engineer"),
    ("GET", "/v1/fine_tuning/jobs/{job_id}"): Rule("read"),
    ("GET", "/v1/fine_tuning/jobs/{job_id}/events"): Rule("read"),
    ("GET", "/v1/fine_tuning/jobs/{job_id}/checkpoints"): Rule("read"),
    ("POST", "/v1/fine_tuning/jobs/{job_id}/cancel"): Rule("change"),
    ("POST", "/v1/fine_tuning/jobs/{job_id}/pause"): Rule("change"),
    ("POST", "/v1/fine_tuning/jobs/{job_id}/resume"): Rule("change"),
    ("GET", "/v1/models"): Rule("engineer"),
    ("GET", "/v1/models/{model:path}"): Rule("read"),
    ("POST", "/v1/chat/completions"): Rule("engineer", _json({})),
}

QUERIES = {"/api/runs/compare": lambda ids: {"job_ids": [ids["job_id"]]}}


def expected(kind: str, role: str, visibility: str):
    """The status class `role` must get from a route of this kind on the owner's row."""
    if kind == "public":
        return OK
    if kind == "cookie":
        return 401
    if role == "none":
        return 401
    shared = visibility == "shared"
    table = {
        "user": {},
        "engineer": {"labeler": 403},
        "admin": {"owner": 403, "other": 403, "labeler": 403},
        "read": {"labeler": 403, "other": OK if shared else 404},
        "change": {"labeler": 403, "other": 403 if shared else 404},
        "private": {"labeler": 403, "other": 404},
        "token": {"labeler": 404, "other": 404},
        "campaign_read": {"other": OK if shared else 404},
        "assignee": {"admin": 404, "owner": 404, "other": 404},
        "item_labels": {"labeler": 403, "other": OK if shared else 404},
    }[kind]
    return table.get(role, OK)


def status_class(code: int):
    assert code < 500, f"server error {code}"
    return code if code in (401, 403, 404) else OK


@pytest.fixture(scope="module")
def studio(tmp_path_factory, tiny_model_dir):
    """One app and four users; each cell gets fresh rows (world) so a delete in one leaves the others be."""
    settings = Settings(home=tmp_path_factory.mktemp("matrix") / "home")
    settings.ensure_dirs()
    migrate.upgrade(settings.database_url)
    people = {}
    with session_scope(settings.database_url) as session:
        for name, role in (
            ("admin", Role.admin),
            ("owner", Role.engineer),
            ("other", Role.engineer),
            ("labeler", Role.labeler),
        ):
            people[name] = users.create_user(session, name, role, PASSWORD)[0].id
        base = registry.register_model(session, "tiny", tiny_model_dir, settings=settings).id
        session.commit()
    client = TestClient(create_app(settings))
    return settings, client, people, base, tiny_model_dir


def make_world(studio, visibility: Visibility) -> dict:
    """The owner's rows (dataset, job, evaluation, output model, campaign: `visibility`; a generation and a
    battle: private), a labeler's open assignment, and a fresh token for every role."""
    settings, _, people, base, model_dir = studio
    store = ArtifactStore(settings.artifacts_dir)
    tag = uuid.uuid4().hex[:8]
    with session_scope(settings.database_url) as session:
        owner = session.get(User, people["owner"])
        upload = store.new_temp(".jsonl")
        upload.write_text("".join(json.dumps(r) + "\n" for r in preference_pairs(4, seed=2)))
        dataset = datasets.create_from_upload(
            session, store, upload, filename="p.jsonl", name=f"d-{tag}", user=owner
        )
        dataset.visibility = visibility
        version_id = dataset.versions[0].id
        job = Job(
            name=f"j-{tag}",
            method="sft",
            status=JobStatus.queued,
            spec={},
            base_model_id=base,
            datasets=[{"version_id": version_id, "weight": 1.0}],
            owner_id=owner.id,
            visibility=visibility,
            queued_at=utcnow(),
        )
        evaluation = Job(
            name=f"e-{tag}",
            method="eval",
            status=JobStatus.succeeded,
            spec={"model_ids": [base]},
            base_model_id=base,
            datasets=[{"version_id": version_id, "weight": 1.0}],
            owner_id=owner.id,
            visibility=visibility,
        )
        generation_run = Job(
            name=f"g-{tag}",
            method="datagen",
            status=JobStatus.succeeded,
            spec={},
            base_model_id=base,
            datasets=[{"version_id": version_id, "weight": 1.0}],
            owner_id=owner.id,
            visibility=visibility,
        )
        session.add_all([job, evaluation, generation_run])
        session.flush()
        model = registry.register_model(
            session,
            registry.job_output_name(job.name, job.id),
            model_dir,
            settings=settings,
            source=ModelSource.job,
            job_id=job.id,
            owner_id=owner.id,
            visibility=visibility,
        )
        request = InferenceRequest(kind="generate", payload={}, created_by=owner.id, owner_id=owner.id)
        session.add(request)
        session.flush()
        battle = ArenaBattle(
            user_id=owner.id, prompt="hi", model_a_id=base, model_b_id=model.id, request_id=request.id
        )
        session.add(battle)
        session.commit()
        campaign = labeling.create_campaign(
            session,
            settings,
            store,
            CampaignCreate(name=f"c-{tag}", mode="pairwise", version_id=version_id),
            owner,
        )
        campaign.visibility = visibility
        session.commit()
        assignment = labeling_queue.next_assignment(session, campaign, session.get(User, people["labeler"]))
        tokens = {name: users.issue_token(session, session.get(User, uid)) for name, uid in people.items()}
        spare, _ = users.request_token(
            session, owner, settings, name="spare", expires_in_days=None, never_expires=False
        )
        ids = {
            "dataset_id": dataset.id,
            "version_id": version_id,
            "job_id": job.id,
            "evaluation_id": evaluation.id,
            "datagen_id": generation_run.id,
            "model_id": model.id,
            "base_model_id": base,
            "request_id": request.id,
            "battle_id": battle.id,
            "campaign_id": campaign.id,
            "assignment_id": assignment.id,
            "item_id": assignment.item_id,
            "candidate_ids": [c.id for c in session.get(LabelingItem, assignment.item_id).candidates],
            "token_id": spare.id,
            "model_name": model.name,
            "visibility": visibility.value,
        }
        session.commit()
    ids["tokens"] = tokens
    ids["ticket"] = ui_gate.issue_ticket(tokens["owner"])
    return ids


def call(studio, method: str, path: str, rule: Rule, role: str, ids: dict):
    client = studio[1]
    headers = {"Authorization": f"Bearer {ids['tokens'][role]}"} if role != "none" else {}
    kwargs = rule.body(ids) if rule.body else {}
    query = QUERIES.get(path, lambda _: None)(ids)
    values = {k: v for k, v in ids.items() if isinstance(v, int)}
    if path.startswith("/v1/"):  # OpenAI's ids for the same rows
        values |= {"job_id": f"ftjob-{ids['job_id']}", "file_id": f"file-{ids['version_id']}"}
        values["model"] = ids["model_name"]
    url = path.replace("{model:path}", "{model}").format(**values)
    return client.request(method, url, headers=headers, params=query, follow_redirects=False, **kwargs)


def app_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, including those of included routers."""
    found = set()
    for route in app.routes:
        nested = getattr(route, "effective_candidates", None)  # an included router (FastAPI >= 0.165)
        for candidate in nested() if callable(nested) else [route]:
            for method in getattr(candidate, "methods", None) or ():
                if method != "HEAD":
                    found.add((method, candidate.path))
    return found


def test_every_route_has_a_rule(studio):
    routes = app_routes(studio[1].app)
    missing = sorted(routes - set(RULES))
    assert not missing, f"routes without an authorization rule in RULES: {missing}"
    assert not sorted(set(RULES) - routes), "rules for routes that no longer exist"


def _cells():
    for method, path in RULES:
        owned = "{" in path or path in QUERIES
        for visibility in (Visibility.private, Visibility.shared) if owned else (Visibility.private,):
            yield pytest.param(method, path, visibility, id=f"{method} {path} {visibility.value}")


@pytest.mark.parametrize(("method", "path", "visibility"), list(_cells()))
def test_route_by_role_and_owner(studio, method, path, visibility):
    """Every role against one route, on a private and on a shared row of the owner. Refusals change nothing,
    so the refused roles share one world; each role let through (on a mutating route) gets its own."""
    rule = RULES[(method, path)]
    wants = {role: expected(rule.kind, role, visibility.value) for role in ROLES}
    refused = [r for r in ROLES if wants[r] != OK]
    allowed = [r for r in ROLES if wants[r] == OK]
    got = {}
    world = make_world(studio, visibility)
    for role in refused + (allowed if method == "GET" else []):
        got[role] = status_class(call(studio, method, path, rule, role, world).status_code)
    if method != "GET":
        for role in allowed:
            got[role] = status_class(
                call(studio, method, path, rule, role, make_world(studio, visibility)).status_code
            )
    assert got == wants


def test_matrix_covers_every_kind():
    kinds = {rule.kind for rule in RULES.values()}
    assert kinds == {
        "public",
        "user",
        "engineer",
        "admin",
        "read",
        "change",
        "private",
        "token",
        "campaign_read",
        "assignee",
        "item_labels",
        "cookie",
    }
    assert list(itertools.islice(_cells(), 1))
