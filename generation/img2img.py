"""img2img (issue 28.4): start from an init image instead of pure noise (docs/design.md,
"img2img").

The denoising loop (``generation.batched``) stays the one path: its pipeline call goes through
``denoise``, which runs the text-to-image pipeline, or diffusers' own image-to-image pipeline
made from it with ``AutoPipelineForImage2Image.from_pipe`` (every component shared, the loop's
UNet wrapper and scheduler included), so the noise schedule, ``get_timesteps`` and
``prepare_latents`` are diffusers'. Each row carries its own init image and its own seeded
generator (the VAE posterior sample, then the noise), so an image does not depend on who else
was in the batch. Two edges are tastemaker's:

- no denoising step (``int(steps × strength) == 0``, strength 0 among them): the init image
  through the VAE (its posterior mean) — diffusers' pipelines cannot run zero steps;
- strength 1: text-to-image itself, the same pixels as without an init image. diffusers'
  img2img at 1 would still start from ``√ᾱ_t·x₀ + √(1−ᾱ_t)·ε`` (about 7–9 % of the init
  latents at SD's first timestep) with ε drawn after the posterior sample took from the seed.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from generation.errors import InvalidGenerationRequest
from generation.reaction_images import decode_image_bytes
from generation.reference_files import MAX_REFERENCE_SIDE, ReferenceFiles, check_reference_image
from generation.reference_ids import MAX_REFERENCE_BYTES
from generation.settings import DEFAULT_STRENGTH, GenerationSettings

if TYPE_CHECKING:
    from preference_store.blobs import BlobStore


def read_init_image(data: bytes) -> Image.Image:
    """The init image's bytes, checked as an uploaded reference is (at most 10 MB, PNG, JPEG
    or WebP by its own header, the header's size before decoding, then decoded whole), as RGB."""
    if len(data) > MAX_REFERENCE_BYTES:
        raise InvalidGenerationRequest(
            f"the init image is {len(data):,} bytes; at most {MAX_REFERENCE_BYTES:,}"
        )
    check_reference_image(data)
    return decode_image_bytes(data, "the init image", MAX_REFERENCE_SIDE**2)


def init_image_for(
    user_id: str, reference: str | None, given: bytes | None, blobs: BlobStore | None
) -> Image.Image | None:
    """A request's init image: the bytes given (the CLI's file), or the person's uploaded
    reference ``reference``; another person's id reads as no reference at all."""
    if given is None and reference is not None:
        given = ReferenceFiles(blobs).read(user_id, reference) if blobs is not None else None
        if given is None:
            raise InvalidGenerationRequest(f"no reference {reference} (upload it first)")
    return read_init_image(given) if given is not None else None


def strength_of(settings: GenerationSettings) -> float:
    return DEFAULT_STRENGTH if settings.strength is None else settings.strength


def denoising_steps(settings: GenerationSettings) -> int:
    """Steps img2img runs: the last ``int(steps × strength)`` of the schedule (diffusers'
    ``get_timesteps``; A1111 without "do exact amount of steps")."""
    return min(int(settings.steps * strength_of(settings)), settings.steps)


def denoise(
    pipe: Any, init_images: list[Image.Image | None], settings: GenerationSettings, **call: Any
) -> Any:
    """The loop's pipeline call (``call``: embeddings, generators, callbacks, ...): text to image,
    or image to image when the rows carry init images (one per row)."""
    if all(image is None for image in init_images) or strength_of(settings) == 1.0:
        return pipe(height=settings.height, width=settings.width, **call)
    if any(image is None for image in init_images):
        raise InvalidGenerationRequest("an img2img batch needs an init image for every request")
    from diffusers import AutoPipelineForImage2Image

    view = AutoPipelineForImage2Image.from_pipe(pipe)  # shares every component: no copies
    view.set_progress_bar_config(disable=True)
    native = int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
    size = (settings.width or native, settings.height or native)
    images = [fit(image, size) for image in init_images if image is not None]
    rescale = call.pop("guidance_rescale", 0.0)
    if "guidance_rescale" in inspect.signature(type(view).__call__).parameters:
        call["guidance_rescale"] = rescale
    elif rescale:
        raise InvalidGenerationRequest(
            f"{type(view).__name__} has no CFG rescale: leave cfg_rescale at 0 for img2img"
        )
    if denoising_steps(settings) == 0:
        return round_trip(view, images, call.get("output_type", "pil"))
    return view(image=images, strength=strength_of(settings), **call)


def fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The init image at the generation size (A1111's "Just resize": stretched, not cropped)."""
    image = image.convert("RGB")
    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)


def round_trip(view: Any, images: list[Image.Image], output_type: str) -> Any:
    """The init images through the VAE and back (the posterior mean, no noise): what img2img
    makes when no denoising step is left. Encoded one row at a time, as diffusers does."""
    from diffusers.pipelines.stable_diffusion import StableDiffusionPipelineOutput

    vae = view.vae
    pixels = view.image_processor.preprocess(images).to(device=vae.device, dtype=vae.dtype)
    with torch.no_grad():
        latents = torch.cat(
            [vae.encode(pixels[i : i + 1]).latent_dist.mode() for i in range(len(images))]
        )
        if output_type == "latent":
            return StableDiffusionPipelineOutput(latents * vae.config.scaling_factor, None)
        decoded = vae.decode(latents, return_dict=False)[0]
    return StableDiffusionPipelineOutput(
        view.image_processor.postprocess(decoded, output_type=output_type), None
    )
