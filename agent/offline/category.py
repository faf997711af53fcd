"""Stage 6: which visual category a phrase belongs to, or None (not a visual feature).

The rightmost curated term decides ("watercolor feel" is about the medium: weak heads like
"feel" yield to the term before them). A phrase with no curated term is compared with every
curated term by MiniLM similarity and kept only when it is close to a visual one. Subject matter
("the dog") is a category of its own, left out by the builder: ViPer learns artistic features.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.offline.pairing import Run
from preference_store.embeddings import TextEmbedder
from preference_store.models import Category

_WEAK_HEADS = frozenset({"feel", "feeling", "vibe", "vibes", "look"})
# One unknown word near a visual term is often a verb or an adjective said in passing ("dusty",
# "damp", "hard" sit at 0.5-0.59 from some curated term): it must be closer to count.
SINGLE_WORD_MIN_SIMILARITY = 0.6


def curated_category(run: Run) -> Category | None:
    """The rightmost curated visual term decides; None when the run has no curated term."""
    visual = [t for t in run.words if t.category is not None and t.category is not Category.SUBJECT]
    if len(visual) > 1 and visual[-1].text in _WEAK_HEADS:
        visual = visual[:-1]
    if visual:
        return visual[-1].category
    if any(t.category is Category.SUBJECT for t in run.words) and all(
        t.category is not None for t in run.words
    ):
        return Category.SUBJECT
    return None


class SimilarCategories:
    """MiniLM nearest curated term for phrases outside the vocabulary (one batch a comment)."""

    def __init__(
        self, embedder: TextEmbedder | None, vocab: dict[str, Category], min_similarity: float
    ) -> None:
        self._embedder = embedder
        self._vocab = vocab
        self._min_similarity = min_similarity
        self._categories: list[Category] = []
        self._matrix: np.ndarray | None = None

    def warm_up(self) -> None:
        if self._embedder is None or self._matrix is not None:
            return
        texts = list(self._vocab)
        self._categories = [self._vocab[t] for t in texts]
        self._matrix = np.asarray(self._embedder.embed(texts), dtype=np.float32)

    def __call__(
        self,
        phrases: Sequence[str],
        known: dict[str, np.ndarray] | None = None,
        *,
        predicates: bool = False,
        named: bool = False,
    ) -> list[Category | None]:
        """Categories of ``phrases``; ``known`` holds vectors already computed this comment.

        ``predicates``: the phrases are what a comment says of a named thing ("melted" in "their
        faces look melted"), so one word needs no more than the usual similarity.
        ``named``: the comment itself names each phrase as a feature it judges ("the french
        knots are lovely"), so the nearest curated term gives its category however far it is:
        the vocabulary cannot list every craft term a person may praise."""
        if not phrases or self._embedder is None:
            return [None] * len(phrases)
        self.warm_up()
        assert self._matrix is not None
        vectors = embed_once(self._embedder, phrases, known)
        result: list[Category | None] = []
        similarity = np.stack([vectors[p] for p in phrases]) @ self._matrix.T
        for phrase, row in zip(phrases, similarity, strict=True):
            best = int(row.argmax())
            category = self._categories[best]
            floor = self._min_similarity
            if " " not in phrase and not predicates:
                floor = max(floor, SINGLE_WORD_MIN_SIMILARITY)
            if row[best] < floor and not named:
                result.append(None)
            else:
                # nearest to subject matter ("the knight") is subject matter: never stored
                result.append(category)
        return result


def embed_once(
    embedder: TextEmbedder, texts: Sequence[str], known: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Vectors for ``texts``, embedding in one batch only those not already ``known``."""
    vectors = dict(known or {})
    missing = list(dict.fromkeys(t for t in texts if t not in vectors))
    if missing:
        for text, vector in zip(missing, embedder.embed(missing), strict=True):
            vectors[text] = np.asarray(vector, dtype=np.float32)
    return vectors
