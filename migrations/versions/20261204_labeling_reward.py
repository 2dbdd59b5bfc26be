"""labeling: a reward model attached to a campaign, its scores per candidate and margin per item

Revision ID: labelingrm01
Revises: labeling01
Create Date: 2026-12-04

Adding a foreign key on SQLite rebuilds the table (batch mode copies rows, indexes and constraints); the
rebuild keeps AUTOINCREMENT so ids are still never reused.
"""

import sqlalchemy as sa
from alembic import op

revision = "labelingrm01"
down_revision = "labeling01"
branch_labels = None
depends_on = None

KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("labeling_campaigns", table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("reward_job_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reward_request_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_labeling_campaigns_reward_job_id_jobs"),
            "jobs",
            ["reward_job_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_labeling_campaigns_reward_request_id_inference_requests"),
            "inference_requests",
            ["reward_request_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("labeling_items") as batch_op:
        batch_op.add_column(sa.Column("reward_margin", sa.Float(), nullable=True))
    with op.batch_alter_table("labeling_candidates") as batch_op:
        batch_op.add_column(sa.Column("reward_score", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("labeling_candidates") as batch_op:
        batch_op.drop_column("reward_score")
    with op.batch_alter_table("labeling_items") as batch_op:
        batch_op.drop_column("reward_margin")
    with op.batch_alter_table("labeling_campaigns", table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_labeling_campaigns_reward_request_id_inference_requests"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_labeling_campaigns_reward_job_id_jobs"), type_="foreignkey")
        batch_op.drop_column("reward_request_id")
        batch_op.drop_column("reward_job_id")
