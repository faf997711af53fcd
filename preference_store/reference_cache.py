"""Style-reference embeddings cached in chromadb (docs/design.md, "Style references").

One collection per IP-Adapter image encoder and width. Two kinds of record: an image's embedding
under ``img:<sha256 of its bytes>`` (computed once per image, whoever brings it), and a profile
version's default set under ``set:<user>@<version>`` (the weighted mean of its liked images'
embeddings, with the ids of the images it came from). Each record keeps its vector's norm: the
collection's cosine index may normalize what it holds, and these vectors are not unit length.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from preference_store.aesthetic_cache import open_collection

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

REFERENCE_PREFIX = "tm_reference_"


def _restored(vector: Sequence[float], norm: float) -> list[float]:
    array = np.asarray(vector, dtype=np.float64)
    length = float(np.linalg.norm(array))
    return [float(x) for x in (array * (norm / length) if length else array)]


class ReferenceCache:
    """Put and read reference embeddings by image content and by profile version."""

    def __init__(self, client: ClientAPI) -> None:
        self._client = client

    def _collection(self, encoder: str, dimension: int) -> Collection:
        digest = hashlib.sha1(encoder.encode()).hexdigest()[:16]
        return open_collection(
            self._client,
            f"{REFERENCE_PREFIX}{digest}_{dimension}",
            dimension=dimension,
            model=encoder,
        )

    def images(self, encoder: str, dimension: int, hashes: Sequence[str]) -> dict[str, list[float]]:
        """content hash -> embedding, for the hashes already cached."""
        if not hashes:
            return {}
        ids = [f"img:{h}" for h in hashes]
        found = self._collection(encoder, dimension).get(
            ids=ids, include=["embeddings", "metadatas"]
        )
        out: dict[str, list[float]] = {}
        vectors: Any = found["embeddings"] if found["embeddings"] is not None else []
        for record, vector, meta in zip(
            found["ids"], list(vectors), found["metadatas"] or [], strict=False
        ):
            norm: Any = meta["norm"]
            out[record.removeprefix("img:")] = _restored(vector, float(norm))
        return out

    def put_images(self, encoder: str, vectors: dict[str, Sequence[float]]) -> None:
        if not vectors:
            return
        dimension = len(next(iter(vectors.values())))
        self._collection(encoder, dimension).upsert(
            ids=[f"img:{h}" for h in vectors],
            embeddings=np.asarray(list(vectors.values()), dtype=np.float32),
            metadatas=[{"norm": float(np.linalg.norm(v))} for v in vectors.values()],
        )

    def profile_set(
        self, encoder: str, dimension: int, user_id: str, version: int
    ) -> tuple[list[float], list[str]] | None:
        """A profile version's default set: its embedding and the image ids it came from."""
        found = self._collection(encoder, dimension).get(
            ids=[f"set:{user_id}@{version}"], include=["embeddings", "metadatas"]
        )
        if not found["ids"] or found["embeddings"] is None or not found["metadatas"]:
            return None
        meta = found["metadatas"][0]
        vector: Any = found["embeddings"][0]
        norm: Any = meta["norm"]
        return _restored(vector, float(norm)), json.loads(str(meta["sources"]))

    def put_profile_set(
        self, encoder: str, user_id: str, version: int, vector: Sequence[float], sources: list[str]
    ) -> None:
        self._collection(encoder, len(vector)).upsert(
            ids=[f"set:{user_id}@{version}"],
            embeddings=np.asarray([vector], dtype=np.float32),
            metadatas=[
                {
                    "user_id": user_id,
                    "version": version,
                    "norm": float(np.linalg.norm(vector)),
                    "sources": json.dumps(sources),
                }
            ],
        )

    def delete_user(self, user_id: str) -> None:
        for collection in self._client.list_collections():
            if collection.name.startswith(REFERENCE_PREFIX):
                self._client.get_collection(collection.name, embedding_function=None).delete(
                    where={"user_id": user_id}
                )
