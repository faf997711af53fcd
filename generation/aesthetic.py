"""The aesthetic embedding: what the images a person liked have in common, as one CLIP vector.

``e = normalize(Σ w_i·f(liked_i) / Σ w_i − share · Σ v_j·f(disliked_j) / Σ v_j)`` with ``f`` the
L2-normalized CLIP image embedding. ``disliked_share`` defaults to 0 (the reference method):
``bench/personalization.py`` measures held-out liked-vs-disliked accuracy per share, and with the
tiny CLIP on its synthetic sets every share scores 100 %, so there is no evidence that
subtracting helps; rerun it with real CLIP weights before changing the default. A few KB per person
(768 floats for CLIP ViT-L/14). Import/export speaks the A1111 aesthetic-gradients ``.pt``
format: a float tensor of shape ``[1, D]`` saved with ``torch.save``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from generation.clip import ClipBundle
from generation.errors import AestheticEmbeddingError
from generation.reaction_images import open_reaction_image
from preference_store.models import ImageReaction, Profile

if TYPE_CHECKING:  # the store pulls in chromadb; the embedding math does not need it
    from preference_store.blobs import BlobStore
    from preference_store.store import PreferenceStore

MAX_EMBEDDING_FILE_BYTES = 1_000_000


def weighted_mean(features: Tensor, weights: Sequence[float]) -> Tensor:
    w = torch.tensor(list(weights), dtype=torch.float32)
    if features.shape[0] != w.numel() or w.numel() == 0:
        raise AestheticEmbeddingError("need one weight per image and at least one image")
    return (features * w[:, None]).sum(0) / w.sum()


def compute_aesthetic_embedding(
    clip: ClipBundle,
    liked: Sequence[tuple[Image.Image, float]],
    disliked: Sequence[tuple[Image.Image, float]] = (),
    *,
    disliked_share: float = 0.0,
) -> Tensor:
    """The L2-normalized aesthetic embedding ``[D]`` of weighted liked (and disliked) images."""
    if not liked:
        raise AestheticEmbeddingError("an aesthetic embedding needs at least one liked image")
    if not 0.0 <= disliked_share < 1.0 or not math.isfinite(disliked_share):
        raise AestheticEmbeddingError("disliked_share must be in [0, 1)")
    positive = weighted_mean(clip.image_features([i for i, _ in liked]), [w for _, w in liked])
    vector = positive
    if disliked and disliked_share > 0.0:
        negative = weighted_mean(
            clip.image_features([i for i, _ in disliked]), [w for _, w in disliked]
        )
        vector = positive - disliked_share * negative
    return normalize_embedding(vector)


def normalize_embedding(vector: Tensor) -> Tensor:
    flat = vector.detach().reshape(-1).to(torch.float32)
    norm = float(flat.norm())
    if not math.isfinite(norm) or norm == 0.0:
        raise AestheticEmbeddingError("aesthetic embedding is zero or not finite")
    return flat / norm


def open_reaction_images(
    reactions: Sequence[ImageReaction], blobs: BlobStore | None = None
) -> list[tuple[Image.Image, float]]:
    """Open the image of each reaction that has one (a file, or a generated image in
    ``blobs``); a missing or broken image is an error."""
    images = []
    for reaction in reactions:
        if reaction.path is None:
            continue
        try:
            images.append((open_reaction_image(reaction, blobs), reaction.weight))
        except (OSError, UnidentifiedImageError) as exc:
            raise AestheticEmbeddingError(
                f"cannot read liked image {reaction.image_id!r} at {reaction.path}: {exc}"
            ) from exc
    return images


def save_a1111_embedding(embedding: Tensor, path: Path) -> None:
    """Write the A1111 aesthetic-gradients format: ``torch.save`` of a ``[1, D]`` float tensor."""
    tensor = normalize_embedding(embedding).reshape(1, -1).clone()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(tensor, path)


def load_a1111_embedding(path: Path, *, expected_dim: int | None = None) -> Tensor:
    """Read an A1111 aesthetic embedding ``.pt`` safely (tensors only, no pickled code)."""
    if not path.is_file():
        raise AestheticEmbeddingError(f"no aesthetic embedding file at {path}")
    if path.stat().st_size > MAX_EMBEDDING_FILE_BYTES:
        raise AestheticEmbeddingError(f"{path} is too large to be an aesthetic embedding")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a non-tensor or corrupt file
        # torch's own text is advice to load untrusted code (weights_only=False): not shown.
        raise AestheticEmbeddingError(
            f"{path} is not an aesthetic embedding file (corrupt, or it holds objects other "
            "than tensors)"
        ) from exc
    if (
        not isinstance(loaded, Tensor)
        or loaded.dim() not in (1, 2)
        or (loaded.dim() == 2 and loaded.shape[0] != 1)
    ):
        raise AestheticEmbeddingError(
            f"{path} does not hold a [1, D] tensor (A1111 aesthetic embedding format)"
        )
    vector = normalize_embedding(loaded.float())
    if expected_dim is not None and vector.numel() != expected_dim:
        raise AestheticEmbeddingError(
            f"{path} has a {vector.numel()}-d embedding; this CLIP model needs {expected_dim}"
        )
    return vector


def ensure_aesthetic_embedding(
    store: PreferenceStore,
    profile: Profile,
    clip: ClipBundle | None,
    blobs: BlobStore | None = None,
) -> Profile:
    """Compute and store the aesthetic embedding for this profile version if it is missing.

    It depends on the generator's CLIP model, so it is made where that model lives, the first
    time a profile version is used, and cached in the store. Returns the profile with the
    embedding in place; unchanged when there is no CLIP model or no liked image with a file.
    """
    if clip is None or clip.name in profile.aesthetic_embeddings:
        return profile
    liked = open_reaction_images(profile.liked_images, blobs)
    if not liked:
        return profile
    vector = compute_aesthetic_embedding(clip, liked)
    store.put_aesthetic_embedding(profile.user_id, profile.version, clip.name, vector.tolist())
    # Used as the cache gives it back (its float32 rounding), so the first image made with it
    # equals every later one, `--from-png` included.
    values = store.get_aesthetic_embedding(profile.user_id, profile.version, clip.name)
    if values is None:  # nothing kept (a store without a cache): the computed values
        values = [float(x) for x in vector]
    embeddings = {**profile.aesthetic_embeddings, clip.name: values}
    return profile.model_copy(update={"aesthetic_embeddings": embeddings})
