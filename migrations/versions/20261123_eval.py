"""evaluation rows: per-row evidence of evaluation jobs

Revision ID: eval01
Revises: 77b92fa567f5
"""

import sqlalchemy as sa
from alembic import op

revision = "eval01"
down_revision = "77b92fa567f5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("set", sa.String(length=16), nullable=False),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_evaluation_rows_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_rows")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_evaluation_rows_job_set_index", "evaluation_rows", ["job_id", "set", "row_index"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_evaluation_rows_job_set_index", table_name="evaluation_rows")
    op.drop_table("evaluation_rows")
