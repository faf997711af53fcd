"""Vectors of fixed vocabularies kept on disk, so a process start reads them instead of running
the model: the offline extractor's ~800 curated terms and labelled examples took ~45 s to embed
on a busy 2-core machine, on every `tastemaker extract` and `onboard`.

Only the batches embedded inside ``persisting()`` are kept (a vocabulary, embedded at warm-up);
every other call goes straight to the model, so per-comment phrases never touch the disk. A
batch is stored under the hash of the model's fingerprint and its exact texts, in their order:
any change to either is a miss, and the vectors served are the very floats the model gave for
that same call. The file repeats its key and is checked before use (a corrupt, truncated or
mismatched file is rebuilt, never trusted); it is written atomically (a temporary file in the
same folder, then a rename), and a folder that cannot be written only costs the speed-up.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from preference_store.embeddings import TextEmbedder

log = logging.getLogger("tastemaker.vector_cache")
_FORMAT = "tastemaker-vocabulary-vectors-1"


class VocabularyCache:
    """A ``TextEmbedder`` that keeps the batches embedded in ``persisting()`` on disk."""

    def __init__(self, embedder: TextEmbedder, directory: Path, model_key: str) -> None:
        self._embedder = embedder
        self._directory = directory
        self._model_key = model_key
        self._persisting = False

    @property
    def name(self) -> str:
        return self._embedder.name

    @property
    def dimension(self) -> int:
        return self._embedder.dimension

    @contextmanager
    def persisting(self) -> Iterator[None]:
        """Calls to ``embed`` in this block embed vocabularies: read from disk, or embedded and
        written. Meant for a warm-up, in one thread, before the embedder is shared."""
        self._persisting = True
        try:
            yield
        finally:
            self._persisting = False

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not self._persisting or not texts:
            return self._embedder.embed(texts)
        key = self.key(texts)
        path = self._directory / f"vocabulary-{key[:32]}.npz"
        vectors = _read(path, key, len(texts))
        if vectors is None:
            vectors = np.asarray(self._embedder.embed(texts), dtype=np.float32)
            _write(path, key, vectors)
        return [list(map(float, row)) for row in vectors.tolist()]

    def key(self, texts: Sequence[str]) -> str:
        """The hash of the format, the model and the exact texts in order."""
        digest = hashlib.sha256(f"{_FORMAT}\n{self._model_key}\n".encode())
        for text in texts:
            digest.update(text.encode("utf-8") + b"\0")
        return digest.hexdigest()


def _read(path: Path, key: str, count: int) -> np.ndarray | None:
    """The stored vectors when the file is whole and is this batch's; None otherwise."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            stored_key = str(stored["key"])
            vectors = stored["vectors"]  # the zip's CRC is checked as it is read
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        log.warning("rebuilding %s: unreadable (%s)", path, error)
        return None
    well_formed = (
        vectors.dtype == np.float32
        and vectors.ndim == 2
        and vectors.shape[0] == count
        and vectors.shape[1] > 0
        and bool(np.isfinite(vectors).all())
    )
    if stored_key != key or not well_formed:
        log.warning("rebuilding %s: it holds other vectors", path)
        return None
    return vectors


def _write(path: Path, key: str, vectors: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".vocabulary-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(file, key=np.array(key), vectors=vectors)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:  # a read-only data dir: slower starts, same answers
        log.warning("cannot keep vocabulary vectors in %s: %s", path.parent, error)
