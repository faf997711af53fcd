"""Guess an attribute's category from its text when nobody said which it is.

Each category has a short prototype description; the guess is the category whose prototype
embedding is closest to the phrase. Extractors with a curated vocabulary try that first and use
this only for phrases outside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from preference_store.embeddings import TextEmbedder
from preference_store.models import Category

CATEGORY_PROTOTYPES: dict[Category, str] = {
    Category.COLOR: "colors, palette, hue, saturation: teal, warm reds, pastel tones, monochrome",
    Category.LIGHTING: "lighting and shadow: golden hour light, backlit, soft diffuse light, glow",
    Category.COMPOSITION: "composition, layout: symmetry, rule of thirds, clutter, negative space",
    Category.STYLE: "art style or movement: impressionism, anime, art nouveau, minimalism, baroque",
    Category.MEDIUM: "artistic medium: oil painting, watercolor, photograph, 3d render, pencil",
    Category.TEXTURE: "surface texture and brushwork: gritty, smooth, impasto, grainy, glossy",
    Category.MOOD: "mood and atmosphere: calm, eerie, melancholic, joyful, dreamy, dramatic",
    Category.DETAIL: "level of detail: intricate details, sharp focus, blurry, simple, ornate",
    Category.PERSPECTIVE: "camera angle: low angle, aerial view, close-up, wide shot, fisheye",
    Category.SUBJECT: "subject matter: people, animals, landscapes, cities, flowers, portraits",
}


class CategoryGuesser:
    """Nearest-prototype category; prototypes are embedded once, at construction."""

    def __init__(self, embedder: TextEmbedder, *, min_similarity: float = 0.15) -> None:
        self._embedder = embedder
        self._categories = list(CATEGORY_PROTOTYPES)
        self._prototypes = np.asarray(embedder.embed(list(CATEGORY_PROTOTYPES.values())))
        self._min_similarity = min_similarity

    def guess_many(self, texts: Sequence[str]) -> list[Category]:
        if not texts:
            return []
        similarities = np.asarray(self._embedder.embed(list(texts))) @ self._prototypes.T
        best = similarities.argmax(axis=1)
        return [
            self._categories[int(i)]
            if similarities[row, i] >= self._min_similarity
            else Category.OTHER
            for row, i in enumerate(best)
        ]

    def guess(self, text: str) -> Category:
        return self.guess_many([text])[0]
