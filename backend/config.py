"""Afina settings: one place, read from the environment (prefix AFINA_) with embedded defaults that need no server."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # A worker heartbeats every `heartbeat_interval` s; a running job silent for `heartbeat_timeout` s is recovered.
    heartbeat_interval: float = 2.0
    heartbeat_timeout: float = 60.0
    # How often a job is retried after its worker died (resuming from its last checkpoint when it has one).
    max_attempts: int = 3
    # Longer than any job: with acks_late a message is redelivered only after this; the DB reaper acts sooner.
    visibility_timeout: int = 7 * 24 * 3600
    # Seconds between a cancel request and SIGKILL of a training process that ignores SIGTERM.
    cancel_grace: float = 5.0
    worker_device: str = Field("auto", description="auto, cpu or cuda[:N]: the device this worker trains on.")

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

    def ensure_dirs(self) -> None:
        for path in (self.home, self.artifacts_dir, self.models_dir, self.broker_dir):
            path.mkdir(parents=True, exist_ok=True)


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
