"""Response bodies built once per profile version.

A profile version never changes once written, so the JSON of a read that depends only on it
(``GET /v1/preferences``) is the same bytes until the next version: each request still looks
up which version is current (one indexed row, so writes from other processes show at once),
and serialises only when that version is new. Entries are per user and keyed by the version's
number and write time, so a body is only ever served to the user whose profile made it.

A body is built after its key was read, so it may show a version written in between: never an
older one, and the next request, reading the newer key, builds again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from preference_store.versions import VersionKey

MAX_BODY_BYTES = 32 * 1024 * 1024  # all bodies kept, together; least recently used go first


class VersionedBodies:
    """user → (version key, body) for the user's current version, least recently used out."""

    def __init__(self, max_bytes: int = MAX_BODY_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, tuple[VersionKey, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, user: str, key: VersionKey | None) -> bytes | None:
        """The body kept for ``user`` at version ``key``, or None (a user with no version
        has nothing kept)."""
        with self._lock:
            hit = self._entries.get(user)
            if key is None or hit is None or hit[0] != key:
                return None
            self._entries.move_to_end(user)
            return hit[1]

    def body(self, user: str, key: VersionKey | None, build: Callable[[], bytes]) -> bytes:
        """The body for ``user`` at version ``key``: kept, or made by ``build`` and kept."""
        hit = self.get(user, key)
        if hit is not None:
            return hit
        body = build()
        if key is None:
            return body
        with self._lock:
            old = self._entries.pop(user, None)
            if old is not None:
                self._bytes -= len(old[1])
            if len(body) <= self._max_bytes:
                self._entries[user] = (key, body)
                self._bytes += len(body)
                while self._bytes > self._max_bytes:
                    _user, (_key, dropped) = self._entries.popitem(last=False)
                    self._bytes -= len(dropped)
        return body
