"""The aesthetic embeddings of profile versions, cached in chromadb: one collection per CLIP
model and width, one record per (user, version).

A version's embedding is computed once from its liked images and reused until the next
version; the records of versions the history compacted away are deleted with them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from preference_store.errors import StoreMismatch

if TYPE_CHECKING:  # the client is injected; importing chromadb here would cost every reader
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

AESTHETIC_PREFIX = "tm_aesthetic_"


def open_collection(client: ClientAPI, name: str, *, dimension: int, model: str) -> Collection:
    """Open or create a cosine collection and refuse one built with another model."""
    collection = client.get_or_create_collection(
        name,
        embedding_function=None,
        configuration={"hnsw": {"space": "cosine"}},
        metadata={"model": model, "dimension": dimension},
    )
    stored = collection.metadata or {}
    if stored.get("dimension") != dimension:
        raise StoreMismatch(
            f"collection {name!r} holds {stored.get('dimension')}-d vectors from "
            f"{stored.get('model')!r}, but the configured model {model!r} makes "
            f"{dimension}-d vectors; use the original model or a new data dir"
        )
    return collection


def _record_id(user_id: str, version: int) -> str:
    return f"{user_id}@{version}"


class AestheticCache:
    """Put, read and forget aesthetic embeddings by user and profile version."""

    def __init__(self, client: ClientAPI) -> None:
        self._client = client

    def _collections(self) -> list[Collection]:
        return [
            self._client.get_collection(c.name, embedding_function=None)
            for c in self._client.list_collections()
            if c.name.startswith(AESTHETIC_PREFIX)
        ]

    def put(self, user_id: str, version: int, clip_model: str, vector: Sequence[float]) -> None:
        if not vector:
            raise ValueError("an aesthetic embedding cannot be empty")
        digest = hashlib.sha1(clip_model.encode()).hexdigest()[:16]
        collection = open_collection(
            self._client,
            f"{AESTHETIC_PREFIX}{digest}_{len(vector)}",
            dimension=len(vector),
            model=clip_model,
        )
        collection.upsert(
            ids=[_record_id(user_id, version)],
            embeddings=np.asarray([vector], dtype=np.float32),
            metadatas=[{"user_id": user_id, "version": version, "clip_model": clip_model}],
        )

    def of(self, user_id: str, version: int) -> dict[str, list[float]]:
        """CLIP model -> the embedding cached for this version."""
        found: dict[str, list[float]] = {}
        for collection in self._collections():
            result = collection.get(ids=[_record_id(user_id, version)], include=["embeddings"])
            if result["ids"] and result["embeddings"] is not None:
                clip_model = str((collection.metadata or {})["model"])
                found[clip_model] = [float(x) for x in result["embeddings"][0]]
        return found

    def forget(self, user_id: str, versions: Sequence[int]) -> None:
        """Drop the embeddings of these versions (compacted away)."""
        if versions:
            ids = [_record_id(user_id, version) for version in versions]
            for collection in self._collections():
                collection.delete(ids=ids)

    def delete_user(self, user_id: str) -> None:
        for collection in self._collections():
            collection.delete(where={"user_id": user_id})
