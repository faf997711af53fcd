"""api/bodies.py: a body per user and profile version, bounded in bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

from api.bodies import VersionedBodies
from preference_store.versions import VersionKey

MOMENT = datetime(2026, 12, 1, tzinfo=UTC)


def key(version: int, moment: datetime = MOMENT) -> VersionKey:
    return version, moment


def test_a_body_is_built_once_per_user_and_version() -> None:
    bodies = VersionedBodies()
    built: list[tuple[str, int]] = []

    def body(user: str, version: VersionKey) -> bytes:
        def build() -> bytes:
            built.append((user, version[0]))
            return f"{user}:{version[0]}".encode()

        return bodies.body(user, version, build)

    assert body("alice", key(1)) == b"alice:1"
    assert body("alice", key(1)) == b"alice:1"
    assert bodies.get("alice", key(1)) == b"alice:1"
    assert body("bob", key(1)) == b"bob:1"
    assert bodies.get("alice", key(2)) is None  # a newer version: nothing kept for it yet
    assert body("alice", key(2)) == b"alice:2"
    assert body("alice", key(1)) == b"alice:1"  # an older one is rebuilt
    # Same number, another write time (the user was deleted and made again): a new version.
    later = MOMENT + timedelta(seconds=1)
    assert bodies.get("alice", key(1, later)) is None
    assert body("alice", key(1, later)) == b"alice:1"
    assert built == [("alice", 1), ("bob", 1), ("alice", 2), ("alice", 1), ("alice", 1)]


def test_a_user_without_a_version_is_never_kept() -> None:
    bodies = VersionedBodies()
    assert bodies.body("carol", None, lambda: b"empty") == b"empty"
    assert bodies.get("carol", None) is None
    assert bodies.body("carol", None, lambda: b"again") == b"again"


def test_the_least_recently_used_bodies_go_first_past_the_byte_bound() -> None:
    bodies = VersionedBodies(max_bytes=10)
    built: list[str] = []

    def build(user: str) -> bytes:
        built.append(user)
        return b"x" * 4

    for user in ("a", "b", "a", "c", "a", "b"):  # "b" was least recently used when "c" came
        bodies.body(user, key(1), partial(build, user))
    assert built == ["a", "b", "c", "b"]
    huge = bodies.body("d", key(1), lambda: b"y" * 11)  # over the bound: never kept
    assert huge == b"y" * 11
    assert bodies.body("d", key(1), lambda: b"z") == b"z"
