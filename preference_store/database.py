"""Relational state (users, tokens, and later sessions, messages and jobs) through SQLAlchemy 2.

SQLite by default; any SQLAlchemy URL (PostgreSQL included) is a settings change. Tables of
every layer share one ``Base`` so one ``create_all`` makes the whole schema.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for every table of tastemaker."""


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite the folder is created and WAL + foreign keys turned on."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite") and ":memory:" not in url:
        # The service reads from up to ~40 threadpool threads; connections beyond the pool are
        # opened and closed per request (with their PRAGMAs), which bench/api.py showed as a
        # hot spot. SQLite connections are cheap to keep.
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, pool_size=48, max_overflow=32
        )
    elif url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    return engine


def create_schema(engine: Engine) -> None:
    """Create every table registered on ``Base`` (import the modules that define them first)."""
    Base.metadata.create_all(engine)
