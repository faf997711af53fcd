"""``tastemaker profiles``: a person's named profiles (a taste for work, another for zines).

Every person has the ``default`` profile; the others are created here and chosen with
``--profile NAME`` on ``onboard``, ``pick``, ``prefs``, ``style``, ``generate`` and ``score``
(docs/design.md, "Named profiles").
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from api.cli.words import count
from api.wiring.services import Components

app = typer.Typer(help="A person's named profiles: create, list, rename, delete.")
console = Console(highlight=False, soft_wrap=True)

UserArg = Annotated[str, typer.Argument(help="The person's user id.")]
NameArg = Annotated[str, typer.Argument(help="A profile name (letters, digits, '_', '-').")]


@app.command("create")
def create(user: UserArg, names: Annotated[list[str], typer.Argument(help="New names.")]) -> None:
    """Create one or more empty profiles for USER."""
    from preference_store.profiles import check_name

    for name in names:  # every name checked before any is made
        check_name(name)
    components = Components()
    components.accounts.require(user)
    for name in names:
        components.profiles.create(user, name)
        console.print(f"created profile {name!r} for {user}")


@app.command("list")
def list_(user: UserArg) -> None:
    """USER's profiles: name, current version, attributes and style tokens."""
    from api.profiles import summaries

    components = Components()
    components.accounts.require(user)
    rows = summaries(components.profiles.named(user), components.history, components.styles)
    for row in rows:
        made = f"  created {row.created_at:%Y-%m-%d %H:%M}" if row.created_at else ""
        console.print(
            f"{row.name}  v{row.version}  {count(row.attribute_count, 'attribute')}  "
            f"{count(row.style_tokens, 'style token')}{made}"
        )


@app.command("rename")
def rename(user: UserArg, old: NameArg, new: NameArg) -> None:
    """Rename one of USER's profiles (not the default)."""
    components = Components()
    components.accounts.require(user)
    components.profiles.rename(user, old, new)
    console.print(f"renamed profile {old!r} of {user} to {new!r}")


@app.command("delete")
def delete(user: UserArg, name: NameArg) -> None:
    """Delete one of USER's profiles and everything in it (the default cannot be deleted)."""
    from api.profiles import forget_profile
    from preference_store.choices import ChoiceStore
    from preference_store.profiles import DEFAULT_PROFILE, ProfileRefused

    if name == DEFAULT_PROFILE:
        raise ProfileRefused("the default profile cannot be deleted")
    components = Components()
    components.accounts.require(user)
    components.profiles.owner(user, name)  # unknown: said before chromadb opens
    store = components.store
    forget_profile(store, components.styles, ChoiceStore(components.engine), user, name)
    console.print(f"deleted profile {name!r} of {user}")
