"""precision: workers record native bf16 and their measured peak matmul throughput (issue 14)

Revision ID: precision01
Revises: labeling01
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "precision01"
down_revision = "ownership01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.add_column(sa.Column("bf16", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("peak_flops", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("peak_flops")
        batch.drop_column("bf16")
