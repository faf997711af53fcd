"""``tastemaker score``: rate images for a person (a preference score, and the taste match
once they have chosen between images)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from api.cli.generate import (
    ClipModelOpt,
    UserOpt,
    _fail,
    console,
    err,
    explain_model_error,
    model_settings,
)
from api.cli.profile_option import ProfileOpt, owner_of
from api.wiring.services import Components
from generation.errors import GenerationError


def score(
    images: Annotated[
        list[Path], typer.Argument(help="Image files, folders or glob patterns to score.")
    ],
    user: UserOpt,
    profile_name: ProfileOpt = None,
    model: Annotated[
        str | None, typer.Option(help="Pipeline whose CLIP to use ('tiny' uses the tiny CLIP).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    clip_model: ClipModelOpt = None,
) -> None:
    """Print a preference score in [0, 1] per image for USER (0.5: indifferent), and the taste
    match once the taste model knows USER (picks, attributes or liked images); files that
    cannot be read are listed after the scores, and the exit status is then 1."""
    from api.cli.image_files import expand_images, open_images
    from api.cli.pick import taste_matches
    from api.wiring.generation import open_clip
    from generation.aesthetic import ensure_aesthetic_embedding
    from generation.png import PROMPT_CHUNK
    from generation.scoring import PreferenceScorer

    components = Components()
    max_pixels = components.settings.max_input_pixels
    opened, unread = open_images(expand_images(images), max_pixels=max_pixels)
    if not opened:
        _fail("no image could be read: " + "; ".join(unread))
    owner = owner_of(components, user, profile_name)
    loading = model_settings(components, None, clip_model)
    try:
        try:
            clip = open_clip(loading, model=model)
        except GenerationError as error:
            _fail(explain_model_error(error, model or loading.model, loading))
        profile = ensure_aesthetic_embedding(
            components.store, components.store.profile(owner), clip, components.blobs
        )
        scores = PreferenceScorer(clip).score([image for _, image in opened], profile)
        # A tastemaker PNG names its prompt: best-of-N ranked it with that as its description,
        # so the match here is the one in its taste_match chunk.
        prompts = [image.info.get(PROMPT_CHUNK) for _, image in opened]
        texts = [p if isinstance(p, str) and p else None for p in prompts]
        matches = taste_matches(components, owner, clip, [i for _, i in opened], texts)
    except GenerationError as error:
        _fail(str(error))
    paths = [path for path, _ in opened]
    per_image: list[float | None] = list(matches) if matches else [None] * len(paths)
    if as_json:
        rows: list[dict[str, object]] = [
            {"image": str(p), **s.model_dump(), **({"taste_match": m} if matches else {})}
            for p, s, m in zip(paths, scores, per_image, strict=True)
        ]
        rows += [{"not_scored": problem} for problem in unread]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        for path, result, match in zip(paths, scores, per_image, strict=True):
            taste = "" if match is None else f"taste {match:.3f}  "
            console.print(f"{result.score:.3f}  {taste}{path}")
    for problem in unread:
        err.print(f"[yellow]not scored:[/yellow] {problem}", soft_wrap=True)
    if unread:
        raise typer.Exit(1)
