"""The features the taste model reads (design.md, "Taste from choices"): an image's CLIP image
embedding beside the MiniLM embedding of its description and tags, each L2-normalized and
scaled by 1/√2, so a row has unit length and both halves count alike.

The text half carries meaning even when CLIP is a random test model; the CLIP half lets the
model score a picture nobody described (its text half is then unknown: NaN, read as average).
Without a CLIP model the space is the text half alone. A liked or disliked phrase is a row
with only a text half, which is how attributes become the model's prior.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from generation.clip import ClipBundle
from preference_store.embeddings import TextEmbedder
from preference_store.models import Profile
from preference_store.taste import Matrix, Vector, prior_from

HALF = 1.0 / math.sqrt(2.0)
PRIOR_SCALE = 4.0  # w₀'s length per unit of (liked − disliked): a comment is worth a few choices


def described(description: str, tags: Sequence[str]) -> str:
    """The text of an image: its description, then its tags."""
    return f"{description}. {', '.join(tags)}" if tags else description


class TasteFeatures:
    """Rows of the taste model's feature space for images, texts and phrases."""

    def __init__(
        self,
        embedder: TextEmbedder,
        clip: ClipBundle | None = None,
        *,
        load_clip: Callable[[], ClipBundle | None] | None = None,
    ) -> None:
        """``load_clip`` instead of ``clip``: loaded at the first use (a service that never
        shows a pair never loads it); returning None means the text half alone."""
        self.embedder = embedder
        self._clip = clip
        self._load_clip = load_clip
        self._cache: dict[tuple[str, ...], Matrix] = {}
        self._lock = threading.Lock()

    @property
    def clip(self) -> ClipBundle | None:
        if self._load_clip is not None:
            with self._lock:
                if self._load_clip is not None:
                    self._clip, self._load_clip = self._load_clip(), None
        return self._clip

    @property
    def name(self) -> str:
        """What the rows depend on; a model trained in another space is not used here."""
        text = f"text:{self.embedder.name}"
        return f"clip:{self.clip.name}+{text}" if self.clip is not None else text

    @property
    def image_width(self) -> int:
        return self.clip.embedding_dim if self.clip is not None else 0

    @property
    def width(self) -> int:
        return self.image_width + self.embedder.dimension

    def rows(self, images: Sequence[Image.Image | None], texts: Sequence[str | None]) -> Matrix:
        """One row per (image, text); a missing image or text leaves its half NaN."""
        if len(images) != len(texts):
            raise ValueError("one text (or None) per image")
        out = np.full((len(images), self.width), np.nan)
        split = self.image_width
        if self.clip is not None:
            present = [i for i, image in enumerate(images) if image is not None]
            if present:
                pictures = [image for image in images if image is not None]
                seen = self.clip.image_features(pictures).numpy().astype(np.float64)
                out[present, :split] = HALF * seen
        written = [i for i, text in enumerate(texts) if text]
        if written:
            read = np.asarray(self.embedder.embed([texts[i] or "" for i in written]))
            out[written, split:] = HALF * read
        return out

    def gallery_rows(
        self, key: str, load: Callable[[], tuple[list[Image.Image], list[str]]]
    ) -> Matrix:
        """``rows`` for a gallery (``load`` gives its images and texts), computed once per
        process and gallery ``key``."""
        cache_key = (key, self.name)
        with self._lock:
            found = self._cache.get(cache_key)
        if found is None:
            images, texts = load()
            found = self.rows(images, list(texts))
            with self._lock:
                self._cache[cache_key] = found
        return found

    def prior(
        self,
        profile: Profile,
        gallery: Matrix,
        gallery_ids: Sequence[str],
        *,
        scale: float = PRIOR_SCALE,
    ) -> Vector:
        """``w₀`` from the profile: liked minus disliked phrases (text half) and gallery
        images (both halves). Chosen images are left out: the model has them from the
        choices themselves, and counting them again would be counting a pick twice."""
        center = gallery.mean(axis=0)
        index = {image_id: i for i, image_id in enumerate(gallery_ids)}

        def side(phrases: list[str], image_ids: list[str]) -> Matrix:
            parts = [self.rows([None] * len(phrases), list(phrases))] if phrases else []
            found = [index[i] for i in image_ids if i in index]
            if found:
                parts.append(gallery[found])
            return np.concatenate(parts) if parts else np.zeros((0, self.width))

        said = [r.image_id for r in profile.liked_images if not r.chosen]  # chosen: learned
        liked = side([a.text for a in profile.liked()], said)
        disliked = side(
            [a.text for a in profile.disliked()], [r.image_id for r in profile.disliked_images]
        )
        return prior_from(liked, disliked, center, scale=scale)
