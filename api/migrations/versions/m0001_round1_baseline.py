"""round-1 baseline: the schema `create_all` made before migrations existed

Revision ID: 0001
Revises:
Create Date: 2026-11-30

A database from before migrations holds some or all of these tables, made by ``create_all``;
``api.migrate`` checks their columns, then runs this revision on it, which creates only the
tables that are missing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())

    if "users" not in existing:
        op.create_table(
            "users",
            sa.Column("id", sa.String(length=64), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        )

    if "api_tokens" not in existing:
        op.create_table(
            "api_tokens",
            sa.Column("token_hash", sa.String(length=64), nullable=False),
            sa.Column("user_id", sa.String(length=64), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(
                ["user_id"],
                ["users.id"],
                name=op.f("fk_api_tokens_user_id_users"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_api_tokens")),
        )
        op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])

    if "profile_versions" not in existing:
        op.create_table(
            "profile_versions",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("user_id", sa.String(length=64), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("reason", sa.String(length=200), nullable=False),
            sa.Column("attribute_count", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("snapshot", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_versions")),
            sa.UniqueConstraint("user_id", "version", name="uq_profile_version"),
        )
        op.create_index(op.f("ix_profile_versions_user_id"), "profile_versions", ["user_id"])

    if "onboarding_sessions" not in existing:
        op.create_table(
            "onboarding_sessions",
            sa.Column("id", sa.String(length=32), nullable=False),
            sa.Column("user_id", sa.String(length=64), nullable=False),
            sa.Column("gallery", sa.String(length=200), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("current_image_id", sa.String(length=100), nullable=True),
            sa.Column("awaiting_followup", sa.Integer(), nullable=False),
            sa.Column("profile_version", sa.Integer(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_sessions")),
        )
        op.create_index(op.f("ix_onboarding_sessions_user_id"), "onboarding_sessions", ["user_id"])

    if "onboarding_messages" not in existing:
        op.create_table(
            "onboarding_messages",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("session_id", sa.String(length=32), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("role", sa.String(length=8), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("image_id", sa.String(length=100), nullable=True),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("extraction", sa.Text(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(
                ["session_id"],
                ["onboarding_sessions.id"],
                name=op.f("fk_onboarding_messages_session_id_onboarding_sessions"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_messages")),
            sa.UniqueConstraint(
                "session_id", "seq", name=op.f("uq_onboarding_messages_session_id_seq")
            ),
        )
        op.create_index(
            op.f("ix_onboarding_messages_session_id"), "onboarding_messages", ["session_id"]
        )

    if "generation_jobs" not in existing:
        op.create_table(
            "generation_jobs",
            sa.Column("id", sa.String(length=32), nullable=False),
            sa.Column("user_id", sa.String(length=64), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("request", sa.Text(), nullable=False),
            sa.Column("total_steps", sa.Integer(), nullable=False),
            sa.Column("result", sa.Text(), nullable=True),
            sa.Column("error", sa.Text(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_generation_jobs")),
        )
        op.create_index(op.f("ix_generation_jobs_status"), "generation_jobs", ["status"])
        op.create_index(op.f("ix_generation_jobs_user_id"), "generation_jobs", ["user_id"])

    if "generation_feedback" not in existing:
        op.create_table(
            "generation_feedback",
            sa.Column("id", sa.String(length=32), nullable=False),
            sa.Column("job_id", sa.String(length=32), nullable=False),
            sa.Column("user_id", sa.String(length=64), nullable=False),
            sa.Column("liked", sa.Boolean(), nullable=False),
            sa.Column("comment", sa.Text(), nullable=True),
            sa.Column("applied_version", sa.Integer(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_generation_feedback")),
        )
        op.create_index(
            op.f("ix_generation_feedback_applied_version"),
            "generation_feedback",
            ["applied_version"],
        )
        op.create_index(op.f("ix_generation_feedback_job_id"), "generation_feedback", ["job_id"])
        op.create_index(op.f("ix_generation_feedback_user_id"), "generation_feedback", ["user_id"])


def downgrade() -> None:
    for table in (
        "generation_feedback",
        "generation_jobs",
        "onboarding_messages",
        "onboarding_sessions",
        "profile_versions",
        "api_tokens",
        "users",
    ):
        op.drop_table(table)
