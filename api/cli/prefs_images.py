"""``tastemaker prefs images``: the pictures a person liked and disliked, and forgetting one.

They are what the aesthetic embedding and style training read, so a person can see which
pictures those are, whether each can still be opened, and remove one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.cli.ids import resolve_prefix
from api.cli.profile_option import ProfileOpt, named, owner_of
from api.cli.words import count
from api.wiring.services import Components

if TYPE_CHECKING:
    from preference_store.blobs import BlobStore
    from preference_store.models import ImageReaction

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


def _where(reaction: ImageReaction, blobs: BlobStore) -> str:
    """Where the picture is kept, and whether it is still there."""
    from generation.reaction_images import blob_key

    if not reaction.path:
        return "no file"
    key = blob_key(reaction.path)
    if key is not None:
        return "kept by content" if blobs.list(key) else "missing from the blob store"
    return f"file {reaction.path}" + ("" if Path(reaction.path).is_file() else " (missing)")


def images(
    user: Annotated[str, typer.Argument(help="The person's user id.")],
    profile_name: ProfileOpt = None,
    remove: Annotated[
        str | None, typer.Option("--remove", help="Forget this image (an id or its start).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep images recorded as file paths by content (migrate)."),
    ] = False,
) -> None:
    """List the images USER liked and disliked (or --remove one, or --keep them by content)."""
    components = Components()
    owner = owner_of(components, user, profile_name)
    profile = components.store.profile(owner, with_aesthetic=False)
    rows = [("liked", r) for r in profile.liked_images]
    rows += [("disliked", r) for r in profile.disliked_images]
    if remove is not None:
        chosen = resolve_prefix(remove, [r.image_id for _, r in rows], what="image id")
        if chosen is None:
            err.print(f"[red]error:[/red] {named(user, profile_name)} has no image {remove!r}")
            raise typer.Exit(1)
        components.store.set_images(
            owner,
            [r for r in profile.liked_images if r.image_id != chosen],
            [r for r in profile.disliked_images if r.image_id != chosen],
            reason=f"removed image {chosen}",
        )
        console.print(f"removed {chosen} from {named(user, profile_name)}'s images")
        return
    if keep:
        from api.wiring.kept_images import keep_files_by_content

        liked, moved = keep_files_by_content(profile.liked_images, components.blobs)
        disliked, more = keep_files_by_content(profile.disliked_images, components.blobs)
        if moved + more:
            components.store.set_images(owner, liked, disliked, reason="images kept by content")
        console.print(
            f"kept {count(moved + more, 'image')} of {named(user, profile_name)}'s by content"
        )
        return
    if as_json:
        listed = [
            {"reaction": how, **r.model_dump(mode="json"), "where": _where(r, components.blobs)}
            for how, r in rows
        ]
        sys.stdout.write(json.dumps(listed, indent=2) + "\n")
        return
    table = Table(
        title=f"{named(user, profile_name)}: {count(len(rows), 'image')}", title_justify="left"
    )
    for column in ("id", "reaction", "weight", "kept"):
        table.add_column(column)
    for how, reaction in rows:
        where = _where(reaction, components.blobs)
        table.add_row(reaction.image_id, how, f"{reaction.weight:.2f}", where)
    console.print(table)
