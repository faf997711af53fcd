"""The chromadb side of the attributes: one record (text, metadata, vector) per attribute,
keyed by owner and id, brought in line with each new version (``store.PreferenceStore``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from preference_store.embeddings import TextEmbedder
from preference_store.models import VisualAttribute

if TYPE_CHECKING:  # the collection is injected; importing chromadb here would cost every reader
    from chromadb.api.models.Collection import Collection

# Attributes embedded and written to chromadb per call: bounded memory per call, and under
# chromadb's own batch limit however large a profile is.
SYNC_BATCH = 256


def _embedding_text(text: str, category: str) -> str:
    """What gets embedded: the category makes 'blue colours' find colour attributes."""
    return f"{text} ({category})"


def _to_metadata(attribute: VisualAttribute) -> dict[str, str | int | float | bool]:
    return {
        "user_id": attribute.user_id,
        "norm": attribute.normalized_text,
        "category": attribute.category.value,
        "polarity": attribute.polarity.value,
        "strength": attribute.strength,
        "evidence": json.dumps(attribute.evidence, ensure_ascii=False),
        "source": attribute.source or "",
        "created_at": attribute.created_at.isoformat(),
        "updated_at": attribute.updated_at.isoformat(),
    }


def record_id(attribute: VisualAttribute) -> str:
    """chromadb's key for an attribute: the owner is part of it, so no document naming another
    person's attribute id (an import, say) can reach that person's record."""
    return f"{attribute.user_id}:{attribute.id}"


def sync_records(
    collection: Collection,
    embedder: TextEmbedder,
    before: Sequence[VisualAttribute],
    after: Sequence[VisualAttribute],
) -> None:
    """Bring the records in line with a new version: delete the removed, write the changed."""
    old = {record_id(a): a for a in before}
    removed = sorted(old.keys() - {record_id(a) for a in after})
    changed = [a for a in after if old.get(record_id(a)) != a]
    if removed:
        collection.delete(ids=removed)
    for start in range(0, len(changed), SYNC_BATCH):
        _upsert(collection, embedder, changed[start : start + SYNC_BATCH])


def repair_records(
    collection: Collection, embedder: TextEmbedder, attributes: Sequence[VisualAttribute]
) -> None:
    """Write the records of ``attributes`` that chromadb lacks (a crash between the version
    commit and the sync leaves them out)."""
    ids = [record_id(a) for a in attributes]
    present = set(collection.get(ids=ids, include=[])["ids"]) if ids else set()
    missing = [a for a in attributes if record_id(a) not in present]
    for start in range(0, len(missing), SYNC_BATCH):
        _upsert(collection, embedder, missing[start : start + SYNC_BATCH])


def _upsert(
    collection: Collection, embedder: TextEmbedder, attributes: Sequence[VisualAttribute]
) -> None:
    texts = [_embedding_text(a.text, a.category.value) for a in attributes]
    collection.upsert(
        ids=[record_id(a) for a in attributes],
        documents=[a.text for a in attributes],
        metadatas=[_to_metadata(a) for a in attributes],
        embeddings=np.asarray(embedder.embed(texts), dtype=np.float32),
    )
