"""Relational state (users, tokens, sessions, messages, profile versions, jobs, blobs) through
SQLAlchemy 2.

SQLite by default; PostgreSQL (``postgresql+psycopg://``) is a settings change. Tables of every
layer share one ``Base``; the composition root (``api/tables.py``) is the one module that
imports them all, and Alembic migrations (``api/migrations``) own the schema in the service.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so a migration can drop or alter one by name on every database (SQLite's
# batch mode included); indexes keep SQLAlchemy's default ``ix_<table>_<column>``.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every table of tastemaker."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite the folder is created and WAL + foreign keys turned on."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite(url) and ":memory:" not in url:
        # The service reads from up to ~40 threadpool threads; connections beyond the pool are
        # opened and closed per request (with their PRAGMAs), which bench/api.py showed as a
        # hot spot. SQLite connections are cheap to keep.
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, pool_size=48, max_overflow=32
        )
    elif is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False})
    else:
        # One kept connection per threadpool thread (40): a connection beyond the pool is a new
        # server process per request, which bench/db.py showed in the p99. Each API process may
        # so hold 40-50 of the server's max_connections (see docs/deployment.md, "Sizing").
        engine = create_engine(url, pool_pre_ping=True, pool_size=40, max_overflow=10)
    if is_sqlite(url):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    return engine


def create_schema(engine: Engine) -> None:
    """Create every table registered on ``Base`` without migrations: for tests and benchmarks of
    one layer. The service's schema comes from ``tastemaker db upgrade``."""
    Base.metadata.create_all(engine)
