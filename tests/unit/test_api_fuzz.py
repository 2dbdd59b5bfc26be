"""schemathesis over the whole OpenAPI schema of the in-process app: no input gets a 5xx, every answer has a
documented status code and matches its documented schema.

Deterministic (fixed seed, derandomized Hypothesis) and bounded (a fixed number of examples per operation), so
`make test` sees the same cases every run. It runs as an admin (every route is open to them), again as an
engineer, and a shorter pass on PostgreSQL. Hand-written regression cases for each server error it found
live in test_api_bad_input.py.

It drives schemathesis' engine (what `schemathesis run` uses: examples, coverage and fuzzing phases) rather
than its pytest plugin, whose lazy `from_fixture` schemas fail on pytest 9 (`Function` has no `_nodeid`). An
exception escaping the in-process app, which a real server would answer with a 500, counts as a failure.
Stateful (link-following) runs are off: the schema declares no links.

A route that logs the caller out or revokes tokens would end the run's access early (every later case a 401,
still no failure): give such a pass a token of its own.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events

from backend import migrate
from backend.app import create_app
from backend.config import Settings
from backend.db import get_engine, session_scope
from backend.models.users import Role
from backend.services import registry, users
from tests.stack import create_postgres_database, drop_postgres_database

# Random examples per operation in the fuzzing phase (positive and negative inputs mixed). The coverage phase
# adds its own deterministic boundary cases (huge integers, over-long strings, wrong types, missing fields):
# about 5,000 for the admin's pass, most of them for the job-spec union; it is what finds most errors and most
# of the run's time (about 40 s of CPU), so the engineer's pass, which mostly meets 403s, runs without it.
MAX_EXAMPLES = 10
SEED = 20261123
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
CHAT_ROW = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def _config(token: str, *, coverage: bool) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            # Hypothesis' "data generation is too slow" measures the generator on this machine, not the API:
            # it fired on a deep labeling schema while the 2 cores ran other work. Every check still runs.
            "suppress-health-check": ["too_slow"],
            "headers": {"Authorization": f"Bearer {token}"},
            # No worker runs here: a generation or preview asked to wait for its answer would wait in vain.
            "parameters": {"query.wait": 0},
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "with-security-parameters": False,
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "workers": 1,
            # The machine running `make test` may be busy; a slow answer is not what this test looks for.
            "request-timeout": 120,
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": coverage},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
        }
    )


def _studio(tmp_path_factory, tiny_model_dir, role: Role, database_url: str | None = None):
    """A fresh studio with one model, one dataset and a token of `role`."""
    home = tmp_path_factory.mktemp(f"fuzz-{role.value}") / "home"
    settings = Settings(home=home, database_url=database_url)
    settings.ensure_dirs()
    migrate.upgrade(settings.database_url)
    with session_scope(settings.database_url) as session:
        user, _ = users.create_user(session, f"fuzz-{role.value}", role, "fuzz-pass-1234")
        token = users.issue_token(session, user)
        registry.register_model(session, "tiny", tiny_model_dir, settings=settings)
    app = create_app(settings)
    _seed_data(app, token)
    return app, token


def _seed_data(app, token: str) -> None:
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {token}"
    rows = "\n".join(json.dumps(CHAT_ROW) for _ in range(8)).encode()
    response = client.post("/api/datasets", files={"file": ("chat.jsonl", rows)}, data={"name": "seed"})
    assert response.status_code == 201, response.text


def _run(schema) -> tuple[int, list[str]]:
    """Run every phase the config enables, as `schemathesis run` would; (cases sent, problems found)."""
    cases, problems = 0, []
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            for checks in event.recorder.checks.values():
                problems.extend(
                    f"{event.label}: {check.failure_info.failure.title}\n    {check.failure_info.code_sample}"
                    for check in checks
                    if check.failure_info is not None
                )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            # An exception escaping the app (a 500 behind a real server) or a broken run.
            error = getattr(event, "value", None) or getattr(event, "exception", None)
            problems.append(f"{getattr(event, 'label', 'run')}: {type(error).__name__}: {error}")
    return cases, sorted(set(problems))


def _fuzz(app, token: str, *, coverage: bool) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(token, coverage=coverage))
    cases, problems = _run(schema)
    operations = len(list(schema.get_all_operations()))
    # Operations without inputs have one case; the floor catches a run that silently tested nothing.
    assert cases >= (50 if coverage else 5) * operations, f"only {cases} cases ran"
    assert not problems, f"{len(problems)} problems in {cases} cases:\n" + "\n".join(problems)


@pytest.mark.parametrize(("role", "coverage"), [(Role.admin, True), (Role.engineer, False)])
def test_no_server_error_and_answers_match_the_schema(role, coverage, tmp_path_factory, tiny_model_dir):
    _fuzz(*_studio(tmp_path_factory, tiny_model_dir, role), coverage=coverage)


@pytest.mark.integration
def test_no_server_error_on_postgres(tmp_path_factory, tiny_model_dir):
    """PostgreSQL refuses other values than SQLite does (int4 columns, strict types): a cheaper pass there."""
    database_url = create_postgres_database()
    try:
        _fuzz(*_studio(tmp_path_factory, tiny_model_dir, Role.admin, database_url), coverage=False)
    finally:
        get_engine(database_url).dispose()
        drop_postgres_database(database_url)
