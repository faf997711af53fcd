"""PALP inside a generation: the adapter for one prompt, cached or trained, then applied.

``render_request`` calls ``prepare_adapter`` before the denoising when a request asks for PALP,
and generates inside ``applied(adapter)``. The stages:

1. The liked images (the profile's: files, or generated images read from the blob store),
   centre-cropped to the generation size and VAE-encoded once.
2. The three conditionings (``palp_conditioning``): y_P = "an image in the style of [V]" for the
   personalization loss, "<prompt>, in the style of [V]" for the adapted branch, and y_c with
   [V] replaced by a plain word from the person's strongest liked attribute. [V] is the person's
   style token, injected per call (``generation.style_inject``); without a token the plain word
   stands in for it.
3. The cache key: profile version, token, prompt, PALP settings, model and size. A hit skips
   training entirely.
4. Training (``generation.palp.train_palp_adapter``), progress reported per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

from generation.encoding import (
    PipelineTextEncoder,
    SDPipeline,
    TextEmbeddings,
    is_sdxl,
    pad_to,
)
from generation.errors import InvalidGenerationRequest
from generation.palp import PalpConditioning, PalpSettings, train_palp_adapter
from generation.palp_adapters import AdapterStore, adapter_key, attached_lora
from generation.reaction_images import describe_unreadable, open_reaction_image
from generation.style_inject import STYLE_MARKER
from generation.style_token import StyleToken
from generation.style_training import choose_init_word
from preference_store.models import ImageReaction, Profile

if TYPE_CHECKING:
    from preference_store.blobs import BlobStore

MAX_PALP_IMAGES = 50
PalpStep = Callable[[int, int], None]
"""Called after each PALP training step with (steps done, PALP steps in all)."""


@dataclass
class PalpAdapter:
    """The adapter a generation applies, and what it took to get it (for the job's result)."""

    weights: dict[str, Tensor]
    rank: int
    cached: bool
    steps_done: int
    seconds: float
    plain_word: str
    token: str | None
    losses: dict[str, list[float]] = field(default_factory=dict)
    key: str = ""  # its cache key (``style export --palp`` finds it by this)

    def summary(self) -> dict[str, Any]:
        return {
            "cached": self.cached,
            "steps": self.steps_done,
            "rank": self.rank,
            "seconds": round(self.seconds, 3),
            "plain_word": self.plain_word,
            "token": self.token,
            "final_losses": {k: round(v[-1], 5) for k, v in self.losses.items() if v},
        }


def liked_latents(
    pipeline: SDPipeline,
    reactions: Sequence[ImageReaction],
    size: int,
    blobs: BlobStore | None = None,
) -> Tensor:
    """The liked images with files (or blobs, read from ``blobs``), centre-cropped to ``size``²,
    as VAE latents (mean, scaled)."""
    usable = [r for r in reactions if r.path][:MAX_PALP_IMAGES]
    if not usable:
        raise InvalidGenerationRequest(
            "PALP learns from the images you liked, and this profile has none with a file: "
            "comment on some images in onboarding first, or train from a moodboard"
        )
    pixels = []
    for reaction in usable:
        try:
            image = open_reaction_image(reaction, blobs)
            square = ImageOps.fit(image, (size, size), Image.Resampling.BICUBIC)
        except OSError as error:  # PIL's UnidentifiedImageError is one
            raise InvalidGenerationRequest(
                f"{reaction.path}: {describe_unreadable(error)}"
            ) from None
        array = np.asarray(square, dtype=np.float32) / 127.5 - 1.0
        pixels.append(torch.from_numpy(array).permute(2, 0, 1))
    vae = pipeline.vae
    batch = torch.stack(pixels).to(vae.device, vae.dtype)
    with torch.no_grad():
        latents = vae.encode(batch).latent_dist.mean * vae.config.scaling_factor
    return latents.to(pipeline.unet.dtype)


def palp_conditioning(
    encoder: PipelineTextEncoder, prompt: str, token: StyleToken | None, plain_word: str
) -> PalpConditioning:
    """y_P, the adapted branch's prompt and y_c, each encoded once for the whole training."""

    def with_token(text: str) -> TextEmbeddings:
        if token is None:
            return encoder.encode(text.replace(STYLE_MARKER, plain_word))
        return encoder.encode_with_style(text, token.vectors)

    parts = {
        "personalization": with_token(f"an image in the style of {STYLE_MARKER}"),
        "target": encoder.encode(f"{prompt}, in the style of {plain_word}"),
        "unconditional": encoder.encode_negative(""),
        "adapted": with_token(f"{prompt}, in the style of {STYLE_MARKER}"),
    }
    # A long prompt takes more 77-token chunks than the others; the pairs are stacked for CFG.
    tokens = max(part.tokens for part in parts.values())
    empty = encoder.empty_chunk()
    return PalpConditioning(**{k: pad_to(v, tokens, empty) for k, v in parts.items()})


def prepare_adapter(
    pipeline: SDPipeline,
    *,
    model: str,
    profile: Profile,
    prompt: str,
    size: tuple[int, int],
    settings: PalpSettings,
    token: StyleToken | None,
    cache: AdapterStore | None,
    on_step: PalpStep | None = None,
    should_stop: Callable[[], bool] | None = None,
    blobs: BlobStore | None = None,
) -> PalpAdapter:
    """The prompt's adapter: from the cache when this exact one was made, else trained now
    (liked generated images are read from ``blobs``)."""
    started = time.perf_counter()
    encoder = PipelineTextEncoder(pipeline)
    plain_word = choose_init_word(profile, encoder.tokenizers[0])
    key = adapter_key(
        profile=profile.user_id,
        version=profile.version,
        token=token.digest() if token else None,
        prompt=prompt,
        settings=settings.cache_key(),
        model=model,
        size=size,
    )
    described = token.describe() if token else None
    hit = cache.get(key) if cache is not None and settings.steps else None
    if hit is not None:
        weights, rank = hit
        return PalpAdapter(weights, rank, True, settings.steps, 0.0, plain_word, described, key=key)
    height, width = size
    if height != width:
        raise InvalidGenerationRequest("PALP trains on square crops: use width = height")
    latents = liked_latents(pipeline, profile.liked_images, width, blobs)
    conditioning = palp_conditioning(encoder, prompt, token, plain_word)
    result = train_palp_adapter(
        unet=pipeline.unet,
        scheduler=pipeline.scheduler,
        latents=latents,
        conditioning=conditioning,
        settings=settings,
        sdxl=is_sdxl(pipeline),
        image_size=size,
        progress=(lambda step, total, *_: on_step(step, total)) if on_step else None,
        should_stop=should_stop,
    )
    if cache is not None and result.adapter and not result.stopped:
        cache.put(key, result.adapter, rank=settings.rank)
    return PalpAdapter(
        weights=result.adapter,
        rank=settings.rank,
        cached=False,
        steps_done=result.steps_done,
        seconds=time.perf_counter() - started,
        plain_word=plain_word,
        token=described,
        losses={
            "personalization": result.personalization_losses,
            "alignment": result.alignment_losses,
        },
        key=key,
    )


@contextmanager
def applied(pipeline: SDPipeline, adapter: PalpAdapter | None) -> Iterator[None]:
    """The adapter on the shared UNet for the block (nothing when there is none to apply)."""
    if adapter is None or not adapter.weights:
        with nullcontext():
            yield
        return
    with attached_lora(pipeline.unet, rank=adapter.rank, weights=adapter.weights):
        yield
