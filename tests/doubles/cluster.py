"""A scale-out deployment on loopback: two API nodes and two ``tastemaker worker`` processes,
each with a data dir of its own, sharing only what machines behind a load balancer share: a
PostgreSQL database, Redis (Celery broker and progress pub/sub) and a Chroma server.

Nothing is shared through the local disk, so a node that reads from its own data dir what
another node wrote fails in a way a user sees. Node ``a`` and the workers are forked by one
:class:`Forker` (one import of the service for three processes, and ``a`` restarts in
seconds after a kill -9); node ``b`` starts as an operator starts it (``python -m uvicorn
api.app:create_app --factory``), as the workers do in tests/test_jobs_celery.py.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import psycopg

from tests.doubles.forker import NODE_IMPORTS, Forker
from tests.doubles.postgres import ADMIN_DSN, URL
from tests.doubles.uvicorn_server import ForkedUvicornServer, UvicornServer
from tests.doubles.worker_process import ForkedWorker

ROOT = Path(__file__).parents[2]


class Process(Protocol):
    log_path: Path

    def stop(self) -> None: ...

    def log(self) -> str: ...


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty ``tastemaker_test_<random>`` database for a whole module, dropped after."""
    name = f"tastemaker_test_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield URL.format(name=name)
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def upgrade_schema(database_url: str, log_path: Path) -> None:
    """``tastemaker db upgrade``, as the operator runs it once before starting the nodes."""
    env = {**os.environ, "TASTEMAKER_DATABASE_URL": database_url}
    with log_path.open("ab") as log:
        subprocess.run(
            [sys.executable, "-c", "from api.cli import main; main()", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=180,
        )


class Cluster:
    """API nodes ``a`` and ``b`` and two workers, started together; ``stop()`` ends them all."""

    def __init__(
        self, root: Path, forker: Forker | None = None, **shared: str | int | float
    ) -> None:
        """``forker``: one shared with other modules (left running by ``stop()``); else one of
        its own, importing from now on."""
        self.root = root
        self.settings = shared
        self.own_forker = forker is None
        self.forker = forker or Forker(root / "api-forker.log", NODE_IMPORTS)
        self.a = ForkedUvicornServer(self.forker, root / "api-a", **shared)
        self.b = UvicornServer(root / "api-b", **shared)
        self.workers = [
            ForkedWorker(self.forker, root / f"worker-{n}", f"w{n}", **shared) for n in range(2)
        ]

    def start(self) -> Cluster:
        steps: list[Callable[[], object]] = [
            lambda: upgrade_schema(str(self.settings["database_url"]), self.root / "db.log"),
            self.forker.wait_ready,
        ]
        self._together(steps)  # the schema exists before any node opens the database
        self._together([self.a.start, self.b.start, *(w.start for w in self.workers)])
        return self

    def stop(self) -> None:
        processes: list[Process] = [*self.workers, self.a, self.b]
        try:
            self._together([p.stop for p in processes])
        finally:
            if self.own_forker:
                self.forker.close()

    def logs(self) -> str:
        """The tail of every process's log, for a failure message."""
        processes: list[Process] = [self.a, self.b, *self.workers]
        return "\n".join(f"== {p.log_path.name}\n{p.log()[-1_500:]}" for p in processes)

    @staticmethod
    def _together(steps: list[Callable[[], object]]) -> None:
        with ThreadPoolExecutor(len(steps)) as pool:
            futures = [pool.submit(step) for step in steps]
            for future in futures:
                future.result()  # raises what a step raised
