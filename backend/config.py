"""Afina settings: one place, read from the environment (prefix AFINA_), with defaults that need no server."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

# Owner-only: the database holds password hashes and the artifacts hold users' data.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# A login token's lifetime: long enough not to nag people daily, short enough that a lost one dies alone.
DEFAULT_TOKEN_TTL_DAYS = 30.0


class Settings(BaseSettings):
    """Process configuration. Hyperparameters are not here: they are job data (backend.schemas.job_specs)."""

    model_config = SettingsConfigDict(env_prefix="AFINA_", env_file=".env", extra="ignore")

    home: Path = Field(
        Path.home() / ".afina", description="Data folder: database, broker, artifacts, models."
    )
    database_url: str | None = Field(None, description="SQLAlchemy URL. Default: SQLite under AFINA_HOME.")
    broker_url: str | None = Field(
        None, description="Celery broker. Default: kombu's filesystem transport under AFINA_HOME (no server)."
    )
    artifacts_dir: Path | None = Field(None, description="Where datasets, adapters and models are stored.")
    env: Literal["dev", "prod"] = Field(
        "dev",
        description="dev or prod; prod refuses to start with a placeholder or default password in a URL.",
    )
    host: str = "127.0.0.1"
    port: int = 7860
    # A worker heartbeats every `heartbeat_interval` s; a job silent for `heartbeat_timeout` s is recovered.
    heartbeat_interval: float = 2.0
    heartbeat_timeout: float = 60.0
    # How often a job is retried after its worker died (resuming from its last checkpoint when it has one).
    max_attempts: int = 3
    # Longer than any job: with acks_late a message is redelivered only after this; the DB reaper acts sooner.
    visibility_timeout: int = 7 * 24 * 3600
    # Seconds between a cancel request and SIGKILL of a training process that ignores SIGTERM.
    cancel_grace: float = 5.0
    worker_device: str = Field("auto", description="auto, cpu or cuda[:N]: the device this worker trains on.")
    # Tokens: a login (or a created token that asks for nothing else) lives `token_ttl_days`; a non-admin may
    # ask for at most `token_max_ttl_days`; only admins (and `afina create-user`, which has the database) may
    # go beyond or ask for a token that never expires.
    token_ttl_days: float = Field(
        DEFAULT_TOKEN_TTL_DAYS, gt=0, description="Default lifetime of a login or API token, in days."
    )
    token_max_ttl_days: float = Field(365, gt=0, description="Longest token a non-admin may create, in days.")
    # Failed logins counted in a sliding window stored in the database (so it holds across API processes).
    login_window_seconds: int = Field(900, gt=0, description="Window over which failed logins are counted.")
    login_max_failures_per_user: int = Field(5, gt=0, description="Failed logins per username per window.")
    login_max_failures_per_address: int = Field(
        20, gt=0, description="Failed logins per client address per window."
    )

    # Upload limits: each is refused as soon as the upload passes it (413 for sizes, 422 for the rest), with a
    # message naming the setting, so memory and temporary disk stay bounded whatever a file holds.
    # 2 GiB: above the largest open SFT/preference sets as gzip or Parquet; bigger data is a storage job.
    max_upload_bytes: int = Field(2 << 30, ge=1, description="Largest dataset file accepted, as sent.")
    # 8 GiB: a 2 GiB gzip of JSON text at a typical 4x expands to this; it bounds the Parquet spill on disk.
    max_decompressed_bytes: int = Field(
        8 << 30, ge=1, description="Largest size a compressed upload may expand to (gzip, Parquet pages)."
    )
    # 100x: JSON text gzips 3-10x; past 100x a file is a bomb. Checked once 64 MiB have come out, so small
    # files of repeated rows (which compress ~1000x) still pass.
    max_decompression_ratio: float = Field(
        100.0, gt=1, description="Largest expansion of a compressed upload."
    )
    # 8 MiB: one training example; a 128k-token context is ~0.5 MB of text, so this leaves 16x room, and
    # parsing a row costs ~10x its size in memory (80 MB at worst).
    max_line_bytes: int = Field(8 << 20, ge=1024, description="Longest row (JSONL/CSV line, JSON element).")
    # 10 million: 5x the largest open instruction sets; a job loads its rows into the worker's memory.
    max_rows: int = Field(10_000_000, ge=1, description="Most rows one dataset file may hold.")

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        self.home = self.home.expanduser().resolve()
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.home / 'afina.db'}"
        if self.broker_url is None:
            self.broker_url = "filesystem://"
        if self.artifacts_dir is None:
            self.artifacts_dir = self.home / "artifacts"
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_defaults_in_prod(self) -> Settings:
        if self.env == "prod":
            for name, url in (
                ("AFINA_DATABASE_URL", self.database_url),
                ("AFINA_BROKER_URL", self.broker_url),
            ):
                problem = unsafe_password(url)
                if problem:
                    raise ValueError(
                        f"AFINA_ENV=prod refuses to start: {name} {problem}. Set a new password in {name} "
                        "(and on its server)"
                    )
        return self

    @property
    def broker_dir(self) -> Path:
        return self.home / "broker"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for a server database (or an in-memory one)."""
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        return Path(url.database)

    def ensure_dirs(self) -> None:
        """Create the data folders (0700) and the SQLite file (0600) with owner-only permissions.

        Folders that already exist keep the permissions their owner gave them."""
        for path in (self.home, self.artifacts_dir, self.models_dir, self.broker_dir):
            if not path.exists():
                path.mkdir(parents=True, mode=PRIVATE_DIR_MODE, exist_ok=True)
                path.chmod(PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask; say it exactly
        database = self.sqlite_path
        if database is not None and not database.exists():
            database.parent.mkdir(parents=True, mode=PRIVATE_DIR_MODE, exist_ok=True)
            # SQLite creates its -wal and -shm files with the database file's permissions.
            os.close(os.open(database, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE_MODE))
            database.chmod(PRIVATE_FILE_MODE)


#: Passwords that ship in examples, images and tutorials: whoever can reach the server can guess them.
PLACEHOLDER_PASSWORDS = frozenset(
    {
        "afina",
        "postgres",
        "password",
        "passw0rd",
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "admin",
        "root",
    }
    | {"redis", "example", "placeholder", "test", "default", "123456", "xxx", "todo"}
)


def unsafe_password(url: str | None) -> str | None:
    """Why the password in a server URL is unsafe (a placeholder, a default, the user name), or None."""
    try:
        parts = urlsplit(url or "")
        password, user = parts.password, parts.username
    except ValueError:
        return None
    if password is None:
        return None
    if password.lower() in PLACEHOLDER_PASSWORDS or "change" in password.lower():
        return "uses a placeholder or default password"
    if user and password == user:
        return "uses the user name as its password"
    return None


@functools.lru_cache
def get_settings() -> Settings:
    return Settings()
