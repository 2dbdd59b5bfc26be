"""ownership: owner and visibility on datasets, jobs, models, generations and campaigns (issue 7, item 2)

Existing rows: a job's and a generation's owner is whoever created it; base models are shared; a job's
output model takes its job's owner and visibility; a dataset or job left without an owner is shared (every
engineer reads it as before the upgrade, only admins change it).

Revision ID: ownership01
Revises: labeling01
Create Date: 2026-12-04 13:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "ownership01"
down_revision = "labelingrm01"
branch_labels = None
depends_on = None

_VISIBILITY = sa.Enum("private", "shared", name="visibility", native_enum=False, length=16)
_OWNED = ("jobs", "base_models", "inference_requests")


def _batch(table: str):
    # SQLite rebuilds the table for these changes: keep AUTOINCREMENT (ids are never reused) on the copy.
    return op.batch_alter_table(table, table_kwargs={"sqlite_autoincrement": True})


def _visibility(default: str) -> sa.Column:
    return sa.Column("visibility", _VISIBILITY, nullable=False, server_default=default)


def upgrade() -> None:
    for table in ("datasets", "jobs", "labeling_campaigns"):
        with _batch(table) as batch_op:
            batch_op.add_column(_visibility("private"))
    with _batch("base_models") as batch_op:
        batch_op.add_column(_visibility("shared"))
    for table in _OWNED:
        with _batch(table) as batch_op:
            batch_op.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_owner_id"), ["owner_id"], unique=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_owner_id_users"), "users", ["owner_id"], ["id"], ondelete="SET NULL"
            )
    op.execute("UPDATE jobs SET owner_id = created_by")
    op.execute("UPDATE inference_requests SET owner_id = created_by")
    op.execute("UPDATE jobs SET visibility = 'shared' WHERE owner_id IS NULL")
    op.execute("UPDATE datasets SET visibility = 'shared' WHERE owner_id IS NULL")
    op.execute(
        "UPDATE base_models "
        "SET owner_id = (SELECT jobs.owner_id FROM jobs WHERE jobs.id = base_models.job_id), "
        "visibility = (SELECT jobs.visibility FROM jobs WHERE jobs.id = base_models.job_id) "
        "WHERE job_id IS NOT NULL"
    )


def downgrade() -> None:
    for table in reversed(_OWNED):
        with _batch(table) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_owner_id_users"), type_="foreignkey")
            batch_op.drop_index(batch_op.f(f"ix_{table}_owner_id"))
            batch_op.drop_column("owner_id")
    for table in ("base_models", "labeling_campaigns", "jobs", "datasets"):
        with _batch(table) as batch_op:
            batch_op.drop_column("visibility")
