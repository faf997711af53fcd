"""The real app behind FastAPI's TestClient, with an admin token, on SQLite or on a fresh
PostgreSQL database, and users made through the admin route: what the hardening, import and
quota tests share."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.doubles.cluster import fresh_postgres_database

ADMIN = "admin-secret"
_names = itertools.count()


@contextlib.contextmanager
def admin_app(
    data_dir: Path,
    database: str = "sqlite",
    *,
    raise_server_exceptions: bool = True,
    **settings: Any,
) -> Iterator[tuple[TestClient, Settings]]:
    """The app over ``data_dir`` (``database``: "sqlite" or "postgresql", a fresh database)."""
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database()) if database == "postgresql" else None
        configured = Settings(
            data_dir=data_dir, admin_token=ADMIN, database_url=url, auto_migrate=True, **settings
        )
        app = create_app(configured)
        client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
        yield stack.enter_context(client), configured


def new_user(client: TestClient) -> tuple[str, dict[str, str]]:
    """A new user made by the admin, and the headers that act as them."""
    name = f"user{next(_names)}"
    made = client.post("/v1/users", json={"id": name}, headers={"Authorization": f"Bearer {ADMIN}"})
    assert made.status_code == 201, made.text
    return name, {"Authorization": f"Bearer {made.json()['token']}"}
