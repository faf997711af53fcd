"""The features the taste model reads (design.md, "Taste from choices"): an image's CLIP image
embedding beside two MiniLM slots, its description and the mean of its tags' embeddings, each
L2-normalized; the image half and the text half have length 1/√2 each, so a row has unit length
and both halves count alike. Within the text half the tags get ``TAG_SHARE`` of the squared
length: people pick on palette, light and medium, which tags name one by one, and a sentence
embedding of description and tags together drowns them (bench/choices.py: a person who likes
three tags is ordered 74 % right by them in the sentence embedding, 89 % in the tag mean).

The text half carries meaning even when CLIP is a random test model; the CLIP half lets the
model score a picture nobody described (its text half is then unknown: NaN, read as average).
A text with no tags (a liked phrase, a generated image's description) is its own tag. Without
a CLIP model the space is the text half alone.
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
TAG_SHARE = 0.8  # of the text half's squared length, the tags' slot (bench/choices.py)
PRIOR_SCALE = 4.0  # w₀'s length per unit of (liked − disliked): a comment is worth a few choices


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
        text = f"text:{self.embedder.name}+tags{TAG_SHARE:g}"
        return f"clip:{self.clip.name}+{text}" if self.clip is not None else text

    @property
    def image_width(self) -> int:
        return self.clip.embedding_dim if self.clip is not None else 0

    @property
    def width(self) -> int:
        return self.image_width + 2 * self.embedder.dimension

    def rows(
        self,
        images: Sequence[Image.Image | None],
        texts: Sequence[str | None],
        tags: Sequence[Sequence[str]] | None = None,
    ) -> Matrix:
        """One row per image, text (its description) and tags; a missing image or text
        leaves its part NaN, and a text without tags stands for its own tag."""
        if len(images) != len(texts) or (tags is not None and len(tags) != len(texts)):
            raise ValueError("one text (or None) and one tag list per image")
        out = np.full((len(images), self.width), np.nan)
        split, dim = self.image_width, self.embedder.dimension
        if self.clip is not None:
            present = [i for i, image in enumerate(images) if image is not None]
            if present:
                pictures = [image for image in images if image is not None]
                seen = self.clip.image_features(pictures).numpy().astype(np.float64)
                out[present, :split] = HALF * seen
        written = [i for i, text in enumerate(texts) if text]
        if written:
            read = np.asarray(self.embedder.embed([texts[i] or "" for i in written]))
            out[written, split : split + dim] = math.sqrt(1.0 - TAG_SHARE) * HALF * read
            out[written, split + dim :] = math.sqrt(TAG_SHARE) * HALF * read
        tagged = [i for i in range(len(texts)) if tags is not None and tags[i]]
        if tags is not None and tagged:
            names = sorted({t for i in tagged for t in tags[i]})
            vectors = dict(zip(names, np.asarray(self.embedder.embed(names)), strict=True))
            for i in tagged:
                mean = np.mean([vectors[t] for t in tags[i]], axis=0)
                scale = math.sqrt(TAG_SHARE) * HALF / max(float(np.linalg.norm(mean)), 1e-12)
                out[i, split + dim :] = scale * mean
        return out

    def gallery_rows(
        self,
        key: str,
        load: Callable[[], tuple[list[Image.Image], list[str], list[list[str]]]],
    ) -> Matrix:
        """``rows`` for a gallery (``load`` gives its images, descriptions and tags),
        computed once per process and gallery ``key``."""
        cache_key = (key, self.name)
        with self._lock:
            found = self._cache.get(cache_key)
        if found is None:
            images, texts, tags = load()
            found = self.rows(images, list(texts), tags)
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
