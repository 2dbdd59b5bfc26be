"""ids never reused on SQLite (AUTOINCREMENT) and archived datasets

Revision ID: integrity01
Revises: 77b92fa567f5
Create Date: 2026-11-23

SQLite gives the id of the newest deleted row to the next insert unless the table is declared AUTOINCREMENT,
and that cannot be altered in place: each table with an integer id is rebuilt (copy, drop, rename; batch mode
keeps its rows, indexes and constraints). PostgreSQL identities never reuse ids, so there only the new
column is added.
"""

import sqlalchemy as sa
from alembic import op

revision = "integrity01"
down_revision = "arena01"
branch_labels = None
depends_on = None

# every table with an integer id, parents before children
TABLES = (
    "users",
    "api_tokens",
    "base_models",
    "datasets",
    "dataset_versions",
    "inference_requests",
    "jobs",
    "job_events",
    "job_metrics",
    "checkpoints",
)


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _rebuild(autoincrement: bool) -> None:
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    if _is_sqlite():
        _rebuild(True)


def downgrade() -> None:
    if _is_sqlite():
        _rebuild(False)
    with op.batch_alter_table("datasets") as batch_op:
        batch_op.drop_column("archived_at")
