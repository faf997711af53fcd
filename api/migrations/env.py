"""Alembic's entry point: runs migrations on the connection ``api.migrate`` hands over.

``api.migrate`` (and through it ``tastemaker db ...``) is the way in; it passes an open
connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from api.tables import metadata

# Any constant: two `tastemaker db upgrade` runs against one PostgreSQL take turns.
_UPGRADE_LOCK = 7_413_604


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_UPGRADE_LOCK})"))
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; use `tastemaker db`")
run_migrations_online()
