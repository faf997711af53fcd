"""``tastemaker generate --from-png FILE``: the request a PNG records, with the flags given on
the command line laid over it (``generation.infotext`` reads the file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from generation.infotext import read_recipe, unknown_sampler_message
from generation.options import RequestMode


@dataclass
class FromPng:
    """The generate command's inputs after the PNG's values and the explicit flags."""

    prompt: str
    negative_prompt: str
    mode: RequestMode
    model: str | None
    options: dict[str, Any]
    profile_version: int | None
    model_hash: str
    notes: list[str]


def given_on_command_line(name: str) -> bool:
    """Whether the flag ``name`` was typed (a default, or an environment value, is not)."""
    context = click.get_current_context(silent=True)
    if context is None:
        return False
    source = context.get_parameter_source(name)
    return source is click.core.ParameterSource.COMMANDLINE


def from_png(
    path: Path,
    *,
    prompt: str | None,
    negative_prompt: str,
    mode: RequestMode,
    model: str | None,
    options: dict[str, Any],
) -> FromPng:
    """The PNG's request; each flag typed on the command line wins over the PNG's value.
    ``UnreadablePng`` when the file records no request, or one tastemaker cannot make."""
    recipe = read_recipe(path)
    typed = {name: value for name, value in options.items() if given_on_command_line(name)}
    if recipe.unknown_sampler and "sampler" not in typed:
        from generation.infotext import UnreadablePng

        raise UnreadablePng(unknown_sampler_message(recipe, path))
    png_mode = RequestMode(recipe.mode) if recipe.mode else RequestMode.EMBEDS
    # Flags left out keep their declared defaults unless the PNG says otherwise.
    merged = {**options, **recipe.options, **typed}
    return FromPng(
        prompt=prompt if prompt is not None else recipe.prompt,
        negative_prompt=negative_prompt
        if given_on_command_line("negative_prompt")
        else recipe.negative_prompt,
        mode=mode if given_on_command_line("mode") else png_mode,
        model=model if model is not None else recipe.model,
        options=merged,
        profile_version=recipe.profile_version,
        model_hash=recipe.model_hash,
        notes=recipe.notes,
    )
