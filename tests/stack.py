"""Start real Afina processes for tests: the API (+UI) and Celery workers, on SQLite or Postgres + Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from backend import migrate
from backend.config import Settings
from backend.db import session_scope
from backend.models.users import Role
from backend.services import registry, users

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "AFINA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("AFINA_TEST_REDIS", "redis://127.0.0.1:6379")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_postgres_database() -> str:
    """A fresh database on the real server; fails (never skips) when the server is not there."""
    name = f"afina_test_{uuid.uuid4().hex[:10]}"
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def redis_url_for_test() -> str:
    """A Redis database of its own (flushed), so test runs never see each other's messages."""
    import redis

    url = f"{REDIS_URL}/{int(os.environ.get('AFINA_TEST_REDIS_DB', '11'))}"
    redis.Redis.from_url(url).flushdb()
    return url


@dataclass
class Studio:
    home: Path
    settings: Settings
    env: dict[str, str]
    url: str = ""
    token: str = ""
    admin_username: str = "admin"
    admin_password: str = "admin-password-1"
    tiny_model_id: int = 0
    tiny_model_path: Path | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token or self.token}"}, timeout=180
        )

    def spawn(self, *args: str, log_name: str) -> subprocess.Popen:
        log = (self.home / f"{log_name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", *args],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(proc)
        return proc

    def start_worker(self, queues: str) -> subprocess.Popen:
        proc = self.spawn("worker", "--queues", queues, log_name=f"worker-{queues}-{len(self.processes)}")
        self.wait_for_worker(proc, queues)
        return proc

    def wait_for_worker(self, proc: subprocess.Popen, queues: str, timeout: float = 90) -> None:
        from backend.models.jobs import Worker

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}; see {self.home}")
            with session_scope(self.settings.database_url) as session:
                if any(w.id.split(":")[1] == str(proc.pid) for w in session.query(Worker).all()):
                    return
            time.sleep(0.3)
        raise TimeoutError(f"worker {queues} did not become ready; logs in {self.home}")

    def start_api(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        proc = self.spawn("api", "--port", str(port), log_name="api")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"API exited with {proc.returncode}; see {self.home}/api.log")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"API did not start; see {self.home}/api.log")

    @staticmethod
    def kill(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop(self) -> None:
        for proc in reversed(self.processes):
            self.kill(proc)


def studio_at(home: Path, *, database_url: str | None = None, broker_url: str | None = None) -> Studio:
    """A studio whose data folder is `home` (fresh or existing); nothing is created, no process started."""
    env = {
        **os.environ,
        "AFINA_HOME": str(home),
        "AFINA_HEARTBEAT_INTERVAL": "0.5",
        "AFINA_HEARTBEAT_TIMEOUT": "6",
        "AFINA_CANCEL_GRACE": "2",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    for key in ("AFINA_DATABASE_URL", "AFINA_BROKER_URL"):
        env.pop(key, None)
    if database_url:
        env["AFINA_DATABASE_URL"] = database_url
    if broker_url:
        env["AFINA_BROKER_URL"] = broker_url
    settings = Settings(
        home=home,
        database_url=database_url,
        broker_url=broker_url,
        heartbeat_interval=0.5,
        heartbeat_timeout=6,
    )
    settings.ensure_dirs()
    return Studio(home=home, settings=settings, env=env)


def make_studio(home: Path, *, database_url: str | None = None, broker_url: str | None = None) -> Studio:
    """Migrate a fresh database, create the admin and register a tiny model; processes start on demand."""
    from worker.training.tiny import build_tiny_model

    studio = studio_at(home, database_url=database_url, broker_url=broker_url)
    settings = studio.settings
    migrate.upgrade(settings.database_url)
    # In the studio's models folder, like the bundled model: the whole studio moves with AFINA_HOME.
    tiny = build_tiny_model(settings.models_dir / "tiny-model")
    with session_scope(settings.database_url) as session:
        admin, _ = users.create_user(session, studio.admin_username, Role.admin, studio.admin_password)
        studio.token = users.issue_token(session, admin, "tests")
        studio.tiny_model_id = registry.register_model(session, "tiny-llama", tiny, settings=settings).id
    studio.tiny_model_path = tiny
    return studio
