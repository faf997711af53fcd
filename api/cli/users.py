"""Who a command is about: a mistyped user id must not quietly become a new person.

Commands that write for a person (``onboard``, ``prefs add``) create the user only when asked
(``--create``) or on a brand-new install with no users at all, where the first name typed is the
person (the README's tour starts that way); otherwise an unknown id is refused with the nearest
existing ids.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Annotated

import typer

from preference_store.models import USER_ID_PATTERN

if TYPE_CHECKING:
    from preference_store.accounts import Accounts

CreateOpt = Annotated[
    bool,
    typer.Option("--create", help="Create the user if it does not exist yet."),
]


class UnknownUser(ValueError):
    """The id names nobody and creating it was not asked for."""


def user_for_writing(accounts: Accounts, user: str, *, create: bool) -> bool:
    """Make sure ``user`` exists before writing for it; True when it was created now."""
    if accounts.exists(user):
        return False
    existing = accounts.list()
    if create or not existing or not re.fullmatch(USER_ID_PATTERN, user):
        return accounts.ensure(user)  # an id that can be no one's is refused here, in words
    close = difflib.get_close_matches(user, existing, n=3, cutoff=0.6)
    if close:
        hint = f" — did you mean {' or '.join(close)}?"
    else:
        shown = ", ".join(existing[:5]) + (
            f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        )
        hint = f" (users: {shown})."
    raise UnknownUser(f"no user {user!r}{hint} Add --create to make {user!r} a new user.")
