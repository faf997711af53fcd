"""Style references: which images, as one IP-Adapter image embedding per request.

A request's references are its own files (``--ref``, uploads) or, by default, the profile's
liked images, the strongest first, at most ``MAX_PROFILE_REFERENCES``. Each image is embedded
once by the adapter's image encoder, by the SHA-256 of its bytes (a ``ReferenceCache``, or an
in-process dict without one); a profile version's set is cached with it. A set's embedding is
the weighted mean of its images' embeddings, so any number of references costs the UNet the same
few image tokens (docs/design.md, "Style references (IP-Adapter, InstantStyle)").
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from generation.errors import InvalidGenerationRequest
from generation.ip_adapter import StyleAdapter
from generation.reaction_images import MAX_INPUT_PIXELS, decode_image_bytes, reaction_bytes
from generation.reference_ids import MAX_REQUEST_REFERENCES
from generation.settings import GenerationSettings
from preference_store.models import Profile

if TYPE_CHECKING:
    from preference_store.blobs import BlobStore
    from preference_store.reference_cache import ReferenceCache

log = logging.getLogger("tastemaker.generation")

MAX_PROFILE_REFERENCES = 4


@dataclass(frozen=True)
class StyleReferences:
    """The images a request is steered by: their mean embedding [D] and what they are."""

    embedding: Tensor
    sources: tuple[str, ...]
    origin: str  # "profile" or "request"

    def describe(self) -> str:
        return f"{len(self.sources)} {self.origin} image(s): {', '.join(self.sources)}"


@dataclass
class ReferenceEmbedder:
    """Image embeddings by content hash, computed once per adapter and image."""

    adapter: StyleAdapter
    cache: ReferenceCache | None = None
    memory: dict[str, Tensor] = field(default_factory=dict)

    @property
    def dimension(self) -> int:
        return int(self.adapter.projection.image_embeds.in_features)

    def embed(
        self, named: Sequence[tuple[str, bytes]], *, max_pixels: int = MAX_INPUT_PIXELS
    ) -> Tensor:
        """[N, D] for the images ``named`` (name, bytes); an unreadable one is a one-line
        ``InvalidGenerationRequest`` naming it, and nothing is cached."""
        hashes = [hashlib.sha256(data).hexdigest() for _, data in named]
        known = {h: self.memory[h] for h in hashes if h in self.memory}
        missing = [h for h in dict.fromkeys(hashes) if h not in known]
        if missing and self.cache is not None:
            for h, vector in self.cache.images(self.adapter.name, self.dimension, missing).items():
                known[h] = torch.tensor(vector, dtype=torch.float32)
        new = [
            (h, name, data) for h, (name, data) in zip(hashes, named, strict=True) if h not in known
        ]
        new = list({h: (h, n, d) for h, n, d in new}.values())
        if new:
            images = [_decode(name, data, max_pixels) for _, name, data in new]
            vectors = self.adapter.embed(images)
            fresh = {h: vectors[i] for i, (h, _, _) in enumerate(new)}
            if self.cache is not None:  # used as read back, so a later cache hit is identical
                self.cache.put_images(
                    self.adapter.name, {h: [float(x) for x in v] for h, v in fresh.items()}
                )
                for h, vector in self.cache.images(
                    self.adapter.name, self.dimension, [*fresh]
                ).items():
                    fresh[h] = torch.tensor(vector, dtype=torch.float32)
            known.update(fresh)
        self.memory.update(known)
        return torch.stack([known[h] for h in hashes])

    def request_set(self, named: Sequence[tuple[str, bytes]]) -> StyleReferences:
        """A request's own references, equally weighted."""
        if not named:
            raise InvalidGenerationRequest("no reference images given")
        if len(named) > MAX_REQUEST_REFERENCES:
            raise InvalidGenerationRequest(
                f"{len(named)} reference images; at most {MAX_REQUEST_REFERENCES} per request"
            )
        embeds = self.embed(named)
        return StyleReferences(embeds.mean(0), tuple(n for n, _ in named), "request")

    def profile_set(
        self, profile: Profile, blobs: BlobStore | None = None
    ) -> StyleReferences | None:
        """The profile's liked images, strongest first, at most 4 (None when it has none);
        cached per profile version."""
        if self.cache is not None:
            found = self.cache.profile_set(
                self.adapter.name, self.dimension, profile.user_id, profile.version
            )
            if found is not None:
                return StyleReferences(torch.tensor(found[0]), tuple(found[1]), "profile")
        liked = sorted((r for r in profile.liked_images if r.path), key=lambda r: -r.weight)[
            :MAX_PROFILE_REFERENCES
        ]
        if not liked:
            return None
        named = [(r.image_id, reaction_bytes(r, blobs)) for r in liked]
        embeds = self.embed(named)
        weights = torch.tensor([r.weight for r in liked], dtype=torch.float32)
        mean = (embeds * weights[:, None]).sum(0) / weights.sum()
        sources = [r.image_id for r in liked]
        if self.cache is not None:  # used as read back, so a later cache hit is identical
            key = (self.adapter.name, profile.user_id, profile.version)
            self.cache.put_profile_set(*key, [float(x) for x in mean], sources)
            stored = self.cache.profile_set(self.adapter.name, self.dimension, *key[1:])
            if stored is not None:
                mean = torch.tensor(stored[0])
        return StyleReferences(mean, tuple(sources), "profile")


def _decode(name: str, data: bytes, max_pixels: int) -> Image.Image:
    try:
        return decode_image_bytes(data, name, max_pixels)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        reason = (
            "not an image" if isinstance(error, UnidentifiedImageError) else "damaged or truncated"
        )
        raise InvalidGenerationRequest(f"reference {name}: {reason}") from None


def choose_references(
    adapter: StyleAdapter | None,
    cache: ReferenceCache | None,
    profile: Profile,
    settings: GenerationSettings,
    images: Sequence[tuple[str, bytes]] = (),
    blobs: BlobStore | None = None,
) -> StyleReferences | None:
    """The request's references: its own ``images`` when given, else (with an adapter and a
    scale above 0) the profile's liked images; None for none. A broken liked-image file costs
    the references, not the request (as for the aesthetic embedding)."""
    if images:
        if adapter is None:
            raise InvalidGenerationRequest(
                "style references need an IP-Adapter: set TASTEMAKER_IP_ADAPTER (and "
                "TASTEMAKER_IP_ADAPTER_IMAGE_ENCODER) for this model"
            )
        return ReferenceEmbedder(adapter, cache).request_set(images)
    if adapter is None or settings.style_ref_scale == 0.0:
        return None
    try:
        return ReferenceEmbedder(adapter, cache).profile_set(profile, blobs)
    except (OSError, InvalidGenerationRequest) as error:
        log.warning("no style references for %s: %s", profile.user_id, error)
        return None
