"""`afina backup` and `afina restore`: a consistent copy of the database and the artifact store in one folder.

A backup folder holds:

    manifest.json      format, time, the schema revision, the source database kind, row counts per table
    database.sqlite3   the whole database, as an SQLite file at the source's schema revision
    artifacts/         the artifact store (datasets, checkpoints, adapters)
    models/            models converted or copied into AFINA_HOME (the bundled model)

The database is always kept as an SQLite file, whatever the source. From SQLite it is taken with SQLite's
online backup API (a consistent snapshot while the studio runs). From PostgreSQL it is copied table by table
through SQLAlchemy inside one REPEATABLE READ transaction (one snapshot for every table). We chose that over
pg_dump because pg_dump must match the server's major version and may not be installed where Afina runs, its
output restores only into PostgreSQL, and the copy through the models is typed (timestamps stay UTC, JSON
stays JSON). One format means a backup of either database restores into either (SQLite to PostgreSQL is how a
studio moves to the scaled form). The database is copied before the artifacts: artifacts are written before
the rows that name them, so every path in the copied rows is in the copied store (at worst the store holds a
few extra files of a job that was running).

Restore goes into a fresh install (refused if the target already has users or artifacts, unless `force`):
the database, then the store, then migrations up to head, so an older backup restores into a newer Afina.
Stop the studio before restoring.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from alembic.migration import MigrationContext
from sqlalchemy import Connection, Integer, create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

import backend.models  # noqa: F401 (every table registered on Base.metadata)
from backend import migrate
from backend.config import Settings
from backend.db import Base

FORMAT = 1
DATABASE_FILE = "database.sqlite3"
MANIFEST_FILE = "manifest.json"
FOLDERS = ("artifacts", "models")
CHUNK = 2000


class BackupError(Exception):
    """A backup or restore that cannot proceed; the message says why and what to do."""


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None


def _sources(settings: Settings) -> dict[str, Path]:
    return {"artifacts": settings.artifacts_dir, "models": settings.models_dir}


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _copy_tables(src: Connection, dst: Connection) -> dict[str, int]:
    """Every table of the models, parents first and rows in primary-key order (self-references hold)."""
    counts = {}
    for table in Base.metadata.sorted_tables:
        result = src.execute(select(table).order_by(*table.primary_key.columns))
        counts[table.name] = 0
        while rows := result.mappings().fetchmany(CHUNK):
            dst.execute(table.insert(), [dict(row) for row in rows])
            counts[table.name] += len(rows)
    return counts


def _count_rows(conn: Connection) -> dict[str, int]:
    return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def _backup_database(url: str, target: Path) -> tuple[str | None, dict[str, int]]:
    sqlite_file = _sqlite_path(url)
    if sqlite_file is not None:
        source = sqlite3.connect(sqlite_file)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # an online, page-by-page consistent snapshot
        finally:
            copy.close()
            source.close()
        engine = create_engine(f"sqlite:///{target}")
        with engine.connect() as conn:
            found = _revision(conn), _count_rows(conn)
        engine.dispose()
        return found
    source = create_engine(url, isolation_level="REPEATABLE READ")
    with source.connect() as conn:
        revision = _revision(conn)
        target_url = f"sqlite:///{target}"
        migrate.upgrade(target_url, revision or "base")
        copy = create_engine(target_url)
        with copy.begin() as dst:
            counts = _copy_tables(conn, dst)
        copy.dispose()
    source.dispose()
    return revision, counts


def backup(settings: Settings, dest: Path) -> dict:
    """Write a backup folder at DEST (which must not exist or be empty); returns the manifest."""
    dest = dest.expanduser().resolve()
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: give a new folder for the backup")
    dest.mkdir(parents=True, exist_ok=True)
    revision, counts = _backup_database(settings.database_url, dest / DATABASE_FILE)
    for name, folder in _sources(settings).items():
        if folder.is_dir():
            shutil.copytree(folder, dest / name, symlinks=True)
        else:
            (dest / name).mkdir()
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "revision": revision,
        "source_database": make_url(settings.database_url).get_backend_name(),
        "rows": counts,
    }
    (dest / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    return manifest


def _read_manifest(src: Path) -> dict:
    manifest_file = src / MANIFEST_FILE
    if not manifest_file.is_file() or not (src / DATABASE_FILE).is_file():
        raise BackupError(f"{src} is not an Afina backup (no {MANIFEST_FILE} or {DATABASE_FILE})")
    manifest = json.loads(manifest_file.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src} is a backup of format {manifest.get('format')}; this Afina reads {FORMAT}")
    return manifest


def _target_in_use(settings: Settings) -> list[str]:
    found = []
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        if "users" in inspect(conn).get_table_names() and conn.scalar(text("SELECT count(*) FROM users")):
            found.append(f"the database {make_url(settings.database_url).render_as_string()} has users")
    engine.dispose()
    for name, folder in _sources(settings).items():
        if folder.is_dir() and any(folder.iterdir()):
            found.append(f"the {name} folder {folder} is not empty")
    return found


def _restore_sqlite(backup_file: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        leftover.unlink(missing_ok=True)
    source = sqlite3.connect(backup_file)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()


def _restore_postgres(backup_file: Path, url: str, revision: str | None) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:  # a clean slate: nothing of the target survives a forced restore
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate.upgrade(url, revision or "base")
    source = create_engine(f"sqlite:///{backup_file}")
    with source.connect() as src, engine.begin() as dst:
        _copy_tables(src, dst)
        for table in Base.metadata.sorted_tables:
            if "id" in table.c and isinstance(table.c.id.type, Integer):
                dst.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"coalesce(max(id), 1), max(id) IS NOT NULL) FROM {table.name}"
                    )
                )
    source.dispose()
    engine.dispose()


def restore(settings: Settings, src: Path, *, force: bool = False) -> dict:
    """Restore a backup folder into this install's database and folders; returns the backup's manifest."""
    src = src.expanduser().resolve()
    manifest = _read_manifest(src)
    settings.ensure_dirs()
    in_use = _target_in_use(settings)
    if in_use and not force:
        raise BackupError(
            "refusing to restore over an install in use (" + "; ".join(in_use) + "): restore into a fresh "
            "AFINA_HOME, or pass --force to replace everything"
        )
    sqlite_file = _sqlite_path(settings.database_url)
    if sqlite_file is not None:
        _restore_sqlite(src / DATABASE_FILE, sqlite_file)
    else:
        _restore_postgres(src / DATABASE_FILE, settings.database_url, manifest["revision"])
    migrate.upgrade(settings.database_url)
    for name, folder in _sources(settings).items():
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(src / name, folder, symlinks=True)
    return manifest
