"""Settings in, generation objects out: the pipeline, its CLIP model, the generator, the scorer.

Loaded once per process by the caller (CLI command, app lifespan or job worker) and shared by all
users.
"""

from __future__ import annotations

from api.settings import Settings
from generation.clip import ClipBundle
from generation.errors import ClipMismatchError
from generation.generator import PersonalizedGenerator
from generation.loading import LoadedModels, load_clip, load_models, resolve_dtype
from generation.tiny import TINY_CLIP_NAME


def open_models(settings: Settings, *, model: str | None = None) -> LoadedModels:
    """The pipeline named by ``model`` (or the setting) and the CLIP model that matches it."""
    return load_models(
        model or settings.model,
        device=settings.device,
        dtype=settings.dtype,
        clip_name=settings.clip_model,
        single_file_config=settings.single_file_config,
        ip_adapter=settings.ip_adapter,
        ip_adapter_image_encoder=settings.ip_adapter_image_encoder,
    )


def open_generator(models: LoadedModels) -> PersonalizedGenerator:
    return PersonalizedGenerator(
        models.pipeline, clip=models.clip, model_name=models.name, style_adapter=models.adapter
    )


def open_clip(settings: Settings, *, model: str | None = None) -> ClipBundle:
    """The CLIP model for scoring: the setting, or the tiny one for the tiny pipelines."""
    name = settings.clip_model
    if name is None and (model or settings.model).startswith("tiny"):
        name = TINY_CLIP_NAME
    if name is None:
        raise ClipMismatchError(
            "no CLIP model configured: set TASTEMAKER_CLIP_MODEL to the CLIP model that matches "
            "your Stable Diffusion text encoder (openai/clip-vit-large-patch14 for SD 1.x)"
        )
    return load_clip(
        name, device=settings.device, torch_dtype=resolve_dtype(settings.dtype, settings.device)
    )
