"""``--profile NAME``: which of a person's profiles a command reads and writes.

Every command that acts on a person's taste takes it; the name is resolved within that person's
account to the owner key the stores know the profile by (``preference_store.profiles``), so an
unknown name is one line of error and never another person's data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from preference_store.profiles import DEFAULT_PROFILE

if TYPE_CHECKING:
    from api.wiring.services import Components

ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="NAME",
        help=f"Which of the person's profiles (default: {DEFAULT_PROFILE!r}; "
        "`tastemaker profiles list USER`).",
    ),
]


def owner_of(components: Components, user: str, profile: str | None) -> str:
    """The owner key of ``user``'s ``profile`` (UserNotFound, ProfileNotFound otherwise)."""
    components.accounts.require(user)
    return components.profiles.owner(user, profile)


def named(user: str, profile: str | None) -> str:
    """How messages name a profile: ``alice`` for the default, ``alice/zines`` otherwise."""
    return user if profile in (None, DEFAULT_PROFILE) else f"{user}/{profile}"


def profile_flag(profile: str | None) -> str:
    """The ``--profile`` flag to repeat in a suggested command ('' for the default)."""
    return "" if profile in (None, DEFAULT_PROFILE) else f" --profile {profile}"
