"""taste from choices: pairs shown and answered, and the trained taste models (issue 22)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "taste_pairs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("left_id", sa.String(length=200), nullable=False),
        sa.Column("right_id", sa.String(length=200), nullable=True),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("predicted", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("feature_space", sa.String(length=400), nullable=True),
        sa.Column("features", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taste_pairs")),
    )
    with op.batch_alter_table("taste_pairs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_taste_pairs_user_id"), ["user_id"], unique=False)
    op.create_table(
        "taste_models",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("feature_space", sa.String(length=400), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "feature_space", name=op.f("pk_taste_models")),
    )


def downgrade() -> None:
    op.drop_table("taste_models")
    with op.batch_alter_table("taste_pairs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_taste_pairs_user_id"))
    op.drop_table("taste_pairs")
