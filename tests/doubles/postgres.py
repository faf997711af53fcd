"""A fresh PostgreSQL database per test on the machine's server (127.0.0.1:5432, user postgres),
dropped afterwards. ``make test`` starts the server first (scripts/ensure-services.sh); when it
is not reachable the test fails saying so; it is never skipped."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(ADMIN_DSN, autocommit=True)
    except psycopg.OperationalError as error:
        pytest.fail(
            "PostgreSQL is not reachable on 127.0.0.1:5432 (user postgres): run "
            f"`bash scripts/ensure-services.sh` (make test does). {error}".strip()
        )


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    """``postgresql+psycopg://`` URL of a new, empty database ``tastemaker_test_<random>``."""
    name = f"tastemaker_test_{secrets.token_hex(6)}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield URL.format(name=name)
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tastemaker.db'}"
    return str(request.getfixturevalue("postgres_url"))
