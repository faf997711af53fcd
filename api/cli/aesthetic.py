"""``tastemaker aesthetic-export`` and ``aesthetic-import``: a person's aesthetic embedding
to and from A1111's aesthetic-gradients .pt format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.generate import UserOpt, _fail, console
from api.cli.profile_option import ProfileOpt, named, owner_of
from api.wiring.services import Components
from generation.errors import GenerationError


def _clip_name(model: str | None, clip: str | None) -> str:
    from generation.tiny import TINY_CLIP_NAME

    settings = Components().settings
    name = clip or settings.clip_model
    if name is None and (model or settings.model).startswith("tiny"):
        name = TINY_CLIP_NAME
    if name is None:
        _fail("say which CLIP model the embedding belongs to: --clip or TASTEMAKER_CLIP_MODEL")
    return name


ClipOpt = Annotated[
    str | None, typer.Option(help="CLIP model the embedding belongs to (default: the setting).")
]


def aesthetic_export(
    user: UserOpt,
    path: Annotated[
        Path | None, typer.Argument(help="Where to write the .pt file (or --out).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the .pt file.")] = None,
    clip: ClipOpt = None,
    model: Annotated[str | None, typer.Option(help="'tiny' selects the tiny CLIP.")] = None,
    profile_name: ProfileOpt = None,
) -> None:
    """Write USER's aesthetic embedding in the A1111 aesthetic-gradients .pt format."""
    target = out or path
    if target is None or (out is not None and path is not None and out != path):
        _fail("say where to write the embedding once: --out FILE (or FILE)")
    import torch

    from generation.aesthetic import save_a1111_embedding

    name = _clip_name(model, clip)
    components = Components()
    owner = owner_of(components, user, profile_name)
    profile = components.store.profile(owner)
    vector = profile.aesthetic_embeddings.get(name)
    if vector is None:
        _fail(
            f"{named(user, profile_name)} has no aesthetic embedding for {name} at profile version "
            f"{profile.version} "
            "yet (it is made at the first generation or score)"
        )
    save_a1111_embedding(torch.tensor(vector), target)
    console.print(f"wrote {target} ({len(vector)}-d, {name}, profile version {profile.version})")


def _clip_width(name: str) -> int:
    """The embedding width of a CLIP model, from its config alone (no weights loaded)."""
    from generation.tiny import TINY_CLIP_NAME, TINY_PROJECTION

    if name == TINY_CLIP_NAME:
        return TINY_PROJECTION
    from transformers import CLIPConfig

    from generation.hub import is_hub_id, require_cached

    try:
        where = require_cached(name) if is_hub_id(name) else Path(name)  # never downloads
        width = CLIPConfig.from_pretrained(where).projection_dim
    except GenerationError as error:
        _fail(str(error))
    except (OSError, ValueError) as error:
        _fail(
            f"cannot read the config of CLIP model {name!r} (a local folder or cached hub id): "
            f"{str(error).splitlines()[0]}"
        )
    if width is None:
        _fail(f"CLIP model {name!r} declares no projection width")
    return int(width)


def aesthetic_import(
    user: UserOpt,
    path: Annotated[Path, typer.Argument(help="An A1111 aesthetic embedding .pt file.")],
    clip: ClipOpt = None,
    model: Annotated[str | None, typer.Option(help="'tiny' selects the tiny CLIP.")] = None,
    profile_name: ProfileOpt = None,
) -> None:
    """Use an A1111 aesthetic embedding as USER's, for their current profile version."""
    from generation.aesthetic import load_a1111_embedding

    name = _clip_name(model, clip)
    try:
        # A vector of another width would be stored and break every later generation.
        vector = load_a1111_embedding(path, expected_dim=_clip_width(name))
    except GenerationError as error:
        _fail(str(error))
    components = Components()
    owner = owner_of(components, user, profile_name)
    profile = components.store.profile(owner)
    values = [float(x) for x in vector]
    components.store.put_aesthetic_embedding(owner, profile.version, name, values)
    console.print(
        f"imported a {len(values)}-d aesthetic embedding for {named(user, profile_name)} ({name}, "
        f"profile version {profile.version})"
    )
