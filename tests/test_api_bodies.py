"""api/bodies.py: a body per user and profile version, bounded in bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.bodies import VersionedBodies
from preference_store.models import Profile

MOMENT = datetime(2026, 12, 1, tzinfo=UTC)


def profile(user: str, version: int, moment: datetime = MOMENT) -> Profile:
    return Profile(user_id=user, version=version, updated_at=moment)


def test_a_body_is_built_once_per_user_and_version() -> None:
    bodies = VersionedBodies()
    built: list[tuple[str, int]] = []

    def build(p: Profile) -> bytes:
        built.append((p.user_id, p.version))
        return f"{p.user_id}:{p.version}".encode()

    assert bodies.body(profile("alice", 1), build) == b"alice:1"
    assert bodies.body(profile("alice", 1), build) == b"alice:1"
    assert bodies.body(profile("bob", 1), build) == b"bob:1"
    assert bodies.body(profile("alice", 2), build) == b"alice:2"
    assert bodies.body(profile("alice", 1), build) == b"alice:1"  # an older one is rebuilt
    # Same number, another write time (the user was deleted and made again): a new version.
    later = MOMENT + timedelta(seconds=1)
    assert bodies.body(profile("alice", 1, later), build) == b"alice:1"
    assert built == [("alice", 1), ("bob", 1), ("alice", 2), ("alice", 1), ("alice", 1)]


def test_the_least_recently_used_bodies_go_first_past_the_byte_bound() -> None:
    bodies = VersionedBodies(max_bytes=10)
    built: list[str] = []

    def build(p: Profile) -> bytes:
        built.append(p.user_id)
        return b"x" * 4

    for user in ("a", "b", "a", "c", "a", "b"):  # "b" was least recently used when "c" came
        bodies.body(profile(user, 1), build)
    assert built == ["a", "b", "c", "b"]
    huge = bodies.body(profile("d", 1), lambda _p: b"y" * 11)  # over the bound: never kept
    assert huge == b"y" * 11
    assert bodies.body(profile("d", 1), lambda _p: b"z") == b"z"
