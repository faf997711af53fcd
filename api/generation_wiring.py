"""Settings in, generation objects out: the pipeline, its CLIP model, the generator, the scorer.

Loaded once per process by the caller (CLI command or app lifespan) and shared by all users.
"""

from __future__ import annotations

import torch

from api.settings import Settings
from generation.aesthetic import compute_aesthetic_embedding, open_reaction_images
from generation.clip import ClipBundle
from generation.errors import ClipMismatchError
from generation.generator import PersonalizedGenerator
from generation.loading import LoadedModels, load_clip, load_models, resolve_dtype
from generation.tiny import TINY_CLIP_NAME
from preference_store.models import Profile
from preference_store.store import PreferenceStore


def open_models(settings: Settings, *, model: str | None = None) -> LoadedModels:
    """The pipeline named by ``model`` (or the setting) and the CLIP model that matches it."""
    return load_models(
        model or settings.model,
        device=settings.device,
        dtype=settings.dtype,
        clip_name=settings.clip_model,
        single_file_config=settings.single_file_config,
    )


def open_generator(models: LoadedModels) -> PersonalizedGenerator:
    return PersonalizedGenerator(models.pipeline, clip=models.clip, model_name=models.name)


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


def ensure_aesthetic_embedding(
    store: PreferenceStore, profile: Profile, clip: ClipBundle | None
) -> Profile:
    """Compute and store the aesthetic embedding for this profile version if it is missing.

    Returns the profile with the embedding in place; unchanged when there is no CLIP model or
    no liked image with a readable file.
    """
    if clip is None or clip.name in profile.aesthetic_embeddings:
        return profile
    liked = open_reaction_images(profile.liked_images)
    if not liked:
        return profile
    vector: torch.Tensor = compute_aesthetic_embedding(clip, liked)
    values = [float(x) for x in vector]
    store.put_aesthetic_embedding(profile.user_id, profile.version, clip.name, values)
    embeddings = {**profile.aesthetic_embeddings, clip.name: values}
    return profile.model_copy(update={"aesthetic_embeddings": embeddings})
