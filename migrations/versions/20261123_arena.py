"""arena battles: blind A/B votes between two models

Revision ID: arena01
Revises: eval01
"""

import sqlalchemy as sa
from alembic import op

revision = "arena01"
down_revision = "eval01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arena_battles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("model_a_id", sa.Integer(), nullable=False),
        sa.Column("model_b_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("vote", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("voted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_a_id"], ["base_models.id"], name=op.f("fk_arena_battles_model_a_id_base_models")
        ),
        sa.ForeignKeyConstraint(
            ["model_b_id"], ["base_models.id"], name=op.f("fk_arena_battles_model_b_id_base_models")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["inference_requests.id"],
            name=op.f("fk_arena_battles_request_id_inference_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_arena_battles_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arena_battles")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_arena_battles_user_id"), "arena_battles", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_arena_battles_user_id"), table_name="arena_battles")
    op.drop_table("arena_battles")
