"""Response bodies built once per profile version.

A profile version never changes once written, so the JSON of a read that depends only on it
(``GET /v1/preferences``) is the same bytes until the next version: each request still looks
up which version is current (one indexed row, so writes from other processes show at once),
and serialises only when that version is new. Entries are per user and keyed by the version's
number and write time, so a body is only ever served to the user whose profile made it, and
never for a version other than the current one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from preference_store.models import Profile

VersionKey = tuple[int, datetime]
MAX_BODY_BYTES = 32 * 1024 * 1024  # all bodies kept, together; least recently used go first


def version_key(profile: Profile) -> VersionKey:
    """Which version this is: a user deleted and made again gets new write times."""
    return profile.version, profile.updated_at


class VersionedBodies:
    """user → (version key, body) for the user's current version, least recently used out."""

    def __init__(self, max_bytes: int = MAX_BODY_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, tuple[VersionKey, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def body(self, profile: Profile, build: Callable[[Profile], bytes]) -> bytes:
        """The body ``build`` makes of ``profile``, built once per user and version."""
        user, key = profile.user_id, version_key(profile)
        with self._lock:
            hit = self._entries.get(user)
            if hit is not None and hit[0] == key:
                self._entries.move_to_end(user)
                return hit[1]
        body = build(profile)
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
