"""``tastemaker generate --from-png FILE``: the request a PNG records, with the flags given on
the command line laid over it (``generation.infotext`` reads the file)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from generation.infotext import read_recipe, unknown_sampler_message
from generation.options import RequestMode

if TYPE_CHECKING:
    from generation.render import ImageSink


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
    keep_image: int | None = None  # only this image of the request is written
    init_image: str | None = None  # img2img: the reference id of the image it started from
    lora_hashes: dict[str, str] = field(default_factory=dict)  # the LoRA files it was made with
    torch_threads: int | None = None  # the CPU threads it was made with
    blend: str | None = None  # a blend's profiles and weights (``--blend`` text)

    def sink(self, sink: ImageSink) -> ImageSink:
        """``sink`` for the image the PNG is; the request's other images are not written."""
        if self.keep_image is None:
            return sink

        def only(variant: str, index: int, seed: int, data: bytes) -> str:
            return sink(variant, index, seed, data) if index == self.keep_image else ""

        return only


def typed_flags(context: typer.Context) -> Callable[[str], bool]:
    """Whether a flag was typed on the command line (a default or an environment value was
    not)."""

    def typed(name: str) -> bool:
        source = context.get_parameter_source(name)
        return source is not None and source.name == "COMMANDLINE"

    return typed


def from_png(
    path: Path,
    *,
    prompt: str | None,
    negative_prompt: str,
    mode: RequestMode,
    model: str | None,
    options: dict[str, Any],
    typed_flag: Callable[[str], bool],
) -> FromPng:
    """The PNG's request; each flag typed on the command line wins over the PNG's value.
    ``UnreadablePng`` when the file records no request, or one tastemaker cannot make."""
    recipe = read_recipe(path)
    typed = {name: value for name, value in options.items() if typed_flag(name)}
    if recipe.unknown_sampler and "sampler" not in typed:
        from generation.infotext import UnreadablePng

        raise UnreadablePng(unknown_sampler_message(recipe, path))
    png_mode = RequestMode(recipe.mode) if recipe.mode else RequestMode.EMBEDS
    # Flags left out keep their declared defaults unless the PNG says otherwise.
    merged = {**options, **recipe.options, **typed}
    return FromPng(
        prompt=prompt if prompt is not None else recipe.prompt,
        negative_prompt=negative_prompt
        if typed_flag("negative_prompt")
        else recipe.negative_prompt,
        mode=mode if typed_flag("mode") else png_mode,
        model=model if model is not None else recipe.model,
        options=merged,
        profile_version=recipe.profile_version,
        model_hash=recipe.model_hash,
        notes=recipe.notes,
        keep_image=None if "num_images" in typed else recipe.image_index,
        init_image=recipe.init_image,
        lora_hashes=recipe.lora_hashes,
        torch_threads=recipe.torch_threads,
        blend=recipe.blend,
    )
