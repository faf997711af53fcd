"""Whether an SQLite database file changed since the last look, for the price of a pragma.

SQLite's ``PRAGMA data_version`` answers a number that changes whenever any *other* connection
(of this process or another) has committed to the file since the same connection last asked.
One connection kept for asking, and used for nothing else, so sees every commit; a value read
before a query and unchanged afterwards means the query would answer the same. The hottest read
(which profile version is current, docs/benchmarks.md) is answered from memory that way until
anything is written.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from sqlalchemy import Engine


class ChangeStamp:
    """``stamp()``: a number that differs after any commit to the database by anyone."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._connection: Any = None  # opened on first use, again in a forked child
        self._pid = 0

    @staticmethod
    def applies(engine: Engine) -> bool:
        """A file database: an in-memory one is a database per connection."""
        database = engine.url.database or ""
        return engine.dialect.name == "sqlite" and database not in ("", ":memory:")

    def stamp(self) -> int:
        with self._lock:
            if self._connection is None or self._pid != os.getpid():
                self._connection = self._engine.raw_connection()  # kept: numbers are per connection
                self._pid = os.getpid()
            cursor = self._connection.cursor()
            try:
                cursor.execute("PRAGMA data_version")
                return int(cursor.fetchone()[0])
            finally:
                cursor.close()
