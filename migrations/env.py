"""Alembic environment: runs migrations against the URL in Afina's settings (or one passed in the config)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import backend.models  # noqa: F401  (registers every table on Base.metadata)
from backend.config import get_settings
from backend.db import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Batch mode lets ALTER TABLE migrations work on SQLite, which cannot alter columns in place.
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
