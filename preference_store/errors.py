"""Domain errors of the preference layer; ``api/`` maps each to one HTTP status and CLI message."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class PreferenceError(Exception):
    """Base class: something a caller asked for cannot be done as asked."""


class UserNotFound(PreferenceError):
    def __init__(self, user_id: str) -> None:
        super().__init__(f"user {user_id!r} does not exist")
        self.user_id = user_id


class UserExists(PreferenceError):
    def __init__(self, user_id: str) -> None:
        super().__init__(f"user {user_id!r} already exists")
        self.user_id = user_id


class AttributeNotFound(PreferenceError):
    def __init__(self, attribute_id: str) -> None:
        super().__init__(f"attribute {attribute_id!r} does not exist for this user")
        self.attribute_id = attribute_id


class VersionNotFound(PreferenceError):
    def __init__(self, version: int) -> None:
        super().__init__(f"profile version {version} does not exist")
        self.version = version


class StyleNotFound(PreferenceError):
    def __init__(self, token_id: str) -> None:
        super().__init__(f"style token {token_id!r} does not exist for this user")
        self.token_id = token_id


class PairNotFound(PreferenceError):
    """A pair id that was never shown to this person (in this session)."""

    def __init__(self, pair_id: str) -> None:
        super().__init__(f"pair {pair_id!r} was not shown to you here")
        self.pair_id = pair_id


class PairAnswered(PreferenceError):
    def __init__(self, pair_id: str, answer: str) -> None:
        super().__init__(f"pair {pair_id!r} was already answered ({answer})")
        self.pair_id = pair_id


class AttributeConflict(PreferenceError):
    """An edit would give two attributes of one user the same text."""


class ProfileFull(PreferenceError):
    """A change would take a profile over the attribute cap."""


class InvalidImport(PreferenceError):
    """An import file that is not a tastemaker export this version can read."""


class StoreMismatch(PreferenceError):
    """The stored data was written with another embedding model or schema."""


class SchemaError(RuntimeError):
    """The relational database's schema is not the one this code was written for (the message
    names the command that fixes it)."""


def problems(error: ValidationError, limit: int = 5) -> str:
    """A validation error as one line, 'field: what is wrong; …' (first ``limit`` problems)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'document'}: "
        f"{str(e['msg']).removeprefix('Value error, ')}"
        for e in error.errors()[:limit]
    )
