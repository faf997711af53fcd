"""``gallery build``: render a gallery from the shipped style-diverse prompts (ViPer's way).

The pipeline is passed in (built by ``api/`` from a model id or path); this module only calls it.
Each image's manifest entry is written from its prompt, so descriptions say what was asked of
the model, and the tags come from the prompt list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

import prompts
from agent.extraction import ImageTag
from agent.gallery import (
    Gallery,
    GalleryImage,
    GalleryManifest,
    load_gallery,
    save_image,
    write_manifest,
)

Renderer = Callable[[str, int], Image.Image]
NEGATIVE_PROMPT = "text, watermark, signature, lowres, jpeg artifacts"


class GalleryPrompt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    prompt: str = Field(min_length=1, max_length=250)
    tags: list[ImageTag] = Field(min_length=1)


def shipped_prompts() -> list[GalleryPrompt]:
    """The 50 shipped prompts (``prompts/gallery_prompts.json``)."""
    data = prompts.load_json("gallery_prompts")
    return [GalleryPrompt.model_validate(item) for item in data["prompts"]]


def diffusers_renderer(
    pipeline: Any, *, steps: int = 30, size: int | None = None, guidance_scale: float = 7.5
) -> Renderer:
    """Wrap any diffusers text-to-image pipeline as ``render(prompt, seed) -> image``;
    ``size`` None renders at the model's native size, as ``generate`` does."""
    import torch

    def render(prompt: str, seed: int) -> Image.Image:
        generator = torch.Generator(device="cpu").manual_seed(seed)
        result = pipeline(
            prompt=prompt,
            negative_prompt=NEGATIVE_PROMPT,
            num_inference_steps=steps,
            height=size,
            width=size,
            guidance_scale=guidance_scale,
            generator=generator,
            output_type="pil",
        )
        return result.images[0]

    return render


def build_gallery(
    render: Renderer,
    out: Path,
    items: Sequence[GalleryPrompt],
    *,
    name: str = "generated gallery",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    describe: Callable[[str], str] | None = None,
) -> Gallery:
    """Render every prompt into ``out`` and write the manifest; existing images are kept, so an
    interrupted build continues where it stopped. ``describe`` turns a prompt into the image's
    description (it must not claim what a test model did not draw)."""
    out.mkdir(parents=True, exist_ok=True)
    images: list[GalleryImage] = []
    for number, item in enumerate(items):
        path = out / f"{item.id}.png"
        if not path.is_file():
            save_image(render(item.prompt, seed + number), path)
        images.append(
            GalleryImage(
                id=item.id,
                file=path.name,
                description=(
                    describe(item.prompt)
                    if describe is not None
                    else f"rendered by Stable Diffusion from the prompt: {item.prompt}"
                ),
                tags=list(item.tags),
            )
        )
        if progress is not None:
            progress(number + 1, len(items))
    write_manifest(out, GalleryManifest(name=name, images=images))
    return load_gallery(out)
