"""PreferenceStore: a person's attributes and aesthetic embeddings in chromadb, versions in SQL.

Merge rules (applied by ``add`` and ``record_onboarding``, in the order attributes arrive):

1. Same user, same normalized text (case and spacing ignored), same polarity: one attribute.
   The newer statement sets the strength, the evidence of both is kept, the id stays.
2. Same user, same normalized text, opposite polarity: the newer one supersedes the older,
   which is removed (the person changed their mind; the old one stays readable in past versions).
3. Users never see, merge with, or search each other's attributes: every read and write is
   filtered by ``user_id``.

Every change that edits the profile writes a new profile version (see ``versions.py``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Where
from sqlalchemy import Engine

from preference_store.embeddings import TextEmbedder
from preference_store.errors import AttributeConflict, AttributeNotFound, StoreMismatch
from preference_store.models import (
    AttributeDraft,
    AttributeUpdate,
    ImageReaction,
    Profile,
    ProfileVersionInfo,
    ScoredAttribute,
    VisualAttribute,
    normalize_attribute_text,
    utc_now,
)
from preference_store.versions import VersionLog

MAX_EVIDENCE_ITEMS = 20
ATTRIBUTES_COLLECTION = "tm_attributes"


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


def _from_record(attribute_id: str, document: str, metadata: Any) -> VisualAttribute:
    return VisualAttribute(
        id=attribute_id,
        user_id=metadata["user_id"],
        text=document,
        category=metadata["category"],
        polarity=metadata["polarity"],
        strength=metadata["strength"],
        evidence=json.loads(metadata["evidence"]),
        source=metadata["source"] or None,
        created_at=datetime.fromisoformat(metadata["created_at"]),
        updated_at=datetime.fromisoformat(metadata["updated_at"]),
    )


class PreferenceStore:
    """Attributes (searchable), image reactions, aesthetic embeddings and versions per user.

    Components are injected: a chromadb client (embedded or HTTP), the text embedder, and the
    SQLAlchemy engine whose schema holds the version log. chromadb never embeds anything itself.
    """

    def __init__(self, client: ClientAPI, embedder: TextEmbedder, engine: Engine) -> None:
        self._client = client
        self._embedder = embedder
        self._versions = VersionLog(engine)
        self._write_lock = threading.RLock()
        self._attributes = self._open_collection(
            ATTRIBUTES_COLLECTION, dimension=embedder.dimension, model=embedder.name
        )

    # -- collections -----------------------------------------------------------------------

    def _open_collection(self, name: str, *, dimension: int, model: str) -> Collection:
        """Open or create a cosine collection and refuse one built with another model."""
        collection = self._client.get_or_create_collection(
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

    def _aesthetic_collection(self, clip_model: str, dimension: int) -> Collection:
        digest = hashlib.sha1(clip_model.encode()).hexdigest()[:16]
        return self._open_collection(
            f"tm_aesthetic_{digest}_{dimension}", dimension=dimension, model=clip_model
        )

    # -- reads -------------------------------------------------------------------------------

    def list_attributes(self, user_id: str) -> list[VisualAttribute]:
        """All of one user's attributes, strongest first."""
        result = self._attributes.get(
            where={"user_id": user_id}, include=["documents", "metadatas"]
        )
        attributes = [
            _from_record(i, d, m)
            for i, d, m in zip(
                result["ids"], result["documents"] or [], result["metadatas"] or [], strict=True
            )
        ]
        return sorted(attributes, key=lambda a: (-a.strength, a.text))

    def profile(self, user_id: str) -> Profile:
        """The current profile: live attributes plus the latest version's images."""
        latest = self._versions.latest(user_id)
        base = latest or Profile(user_id=user_id)
        attributes = self.list_attributes(user_id)
        return base.model_copy(
            update={
                "attributes": attributes,
                "aesthetic_embeddings": self._aesthetic_embeddings_for(user_id, base.version),
            }
        )

    def get(self, user_id: str, attribute_id: str) -> VisualAttribute:
        result = self._attributes.get(ids=[attribute_id], include=["documents", "metadatas"])
        metadatas = result["metadatas"] or []
        if not result["ids"] or metadatas[0]["user_id"] != user_id:
            raise AttributeNotFound(attribute_id)  # another user's id looks exactly like none
        return _from_record(result["ids"][0], (result["documents"] or [""])[0], metadatas[0])

    def search(self, user_id: str, query: str, *, limit: int = 10) -> list[ScoredAttribute]:
        """One user's attributes by meaning, most relevant first."""
        if not query.strip() or limit < 1:
            return []
        result = self._attributes.query(
            query_embeddings=np.asarray(self._embedder.embed([query]), dtype=np.float32),
            n_results=limit,
            where={"user_id": user_id},
            include=["documents", "metadatas", "distances"],
        )
        ids = result["ids"][0]
        documents = (result["documents"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        return [
            ScoredAttribute(attribute=_from_record(i, d, m), score=round(1.0 - float(dist), 6))
            for i, d, m, dist in zip(ids, documents, metadatas, distances, strict=True)
        ]

    def versions(self, user_id: str) -> list[ProfileVersionInfo]:
        return self._versions.list(user_id)

    def profile_at(self, user_id: str, version: int) -> Profile:
        """A past (or the current) version exactly as it was."""
        profile = self._versions.get(user_id, version)
        return profile.model_copy(
            update={"aesthetic_embeddings": self._aesthetic_embeddings_for(user_id, version)}
        )

    # -- writes ------------------------------------------------------------------------------

    def add(
        self, user_id: str, drafts: Sequence[AttributeDraft], *, reason: str = "edit"
    ) -> list[VisualAttribute]:
        """Add attributes under the merge rules; one new version. Returns the stored result of
        each draft, in order."""
        with self._write_lock:
            stored = self._merge_and_write(user_id, drafts)
            self._snapshot(user_id, reason)
            return stored

    def record_onboarding(
        self,
        user_id: str,
        drafts: Sequence[AttributeDraft],
        liked_images: Sequence[ImageReaction],
        disliked_images: Sequence[ImageReaction],
    ) -> Profile:
        """Store what an onboarding learned, and the images reacted to, as one new version."""
        with self._write_lock:
            self._merge_and_write(user_id, drafts)
            return self._snapshot(
                user_id,
                "onboarding",
                liked_images=list(liked_images),
                disliked_images=list(disliked_images),
            )

    def set_images(
        self,
        user_id: str,
        liked_images: Sequence[ImageReaction],
        disliked_images: Sequence[ImageReaction],
        *,
        reason: str = "images",
    ) -> Profile:
        """Replace the liked/disliked images (the aesthetic embedding's input); new version."""
        with self._write_lock:
            return self._snapshot(
                user_id,
                reason,
                liked_images=list(liked_images),
                disliked_images=list(disliked_images),
            )

    def update(self, user_id: str, attribute_id: str, change: AttributeUpdate) -> VisualAttribute:
        """Edit one attribute in place (same id); new version."""
        with self._write_lock:
            current = self.get(user_id, attribute_id)
            fields = change.model_dump(exclude_none=True)
            if not fields:
                return current
            edited = current.model_copy(update={**fields, "updated_at": utc_now()})
            edited = VisualAttribute.model_validate(edited.model_dump())
            if edited.normalized_text != current.normalized_text:
                clash = self._find_by_norm(user_id, [edited.normalized_text])
                if clash:
                    raise AttributeConflict(
                        f"you already have an attribute {edited.text!r}; edit or delete that one"
                    )
            self._upsert([edited])
            self._snapshot(user_id, f"edit {attribute_id}")
            return edited

    def delete(self, user_id: str, attribute_id: str) -> None:
        with self._write_lock:
            self.get(user_id, attribute_id)  # raises for unknown and for other users' ids
            self._attributes.delete(ids=[attribute_id])
            self._snapshot(user_id, f"delete {attribute_id}")

    def delete_user(self, user_id: str) -> None:
        """Forget a person entirely: attributes, versions and aesthetic embeddings."""
        with self._write_lock:
            self._attributes.delete(where={"user_id": user_id})
            for collection in self._client.list_collections():
                if collection.name.startswith("tm_aesthetic_"):
                    self._client.get_collection(collection.name, embedding_function=None).delete(
                        where={"user_id": user_id}
                    )
            self._versions.delete_user(user_id)

    def restore(self, profile: Profile, *, reason: str = "import") -> Profile:
        """Make ``profile`` the user's current state exactly (ids and times kept); new version,
        numbered at least ``profile.version`` so a restore into an empty store keeps its number."""
        with self._write_lock:
            user_id = profile.user_id
            self._attributes.delete(where={"user_id": user_id})
            self._upsert(profile.attributes)
            restored = self._snapshot(
                user_id,
                reason,
                liked_images=list(profile.liked_images),
                disliked_images=list(profile.disliked_images),
                at_least=profile.version,
            )
            for clip_model, vector in profile.aesthetic_embeddings.items():
                self.put_aesthetic_embedding(user_id, restored.version, clip_model, vector)
            return self.profile(user_id)

    # -- aesthetic embeddings ----------------------------------------------------------------

    def put_aesthetic_embedding(
        self, user_id: str, version: int, clip_model: str, vector: Sequence[float]
    ) -> None:
        """Cache the aesthetic embedding a CLIP model made for one profile version."""
        if not vector:
            raise ValueError("an aesthetic embedding cannot be empty")
        collection = self._aesthetic_collection(clip_model, len(vector))
        collection.upsert(
            ids=[f"{user_id}@{version}"],
            embeddings=np.asarray([vector], dtype=np.float32),
            metadatas=[{"user_id": user_id, "version": version, "clip_model": clip_model}],
        )

    def get_aesthetic_embedding(
        self, user_id: str, version: int, clip_model: str
    ) -> list[float] | None:
        return self._aesthetic_embeddings_for(user_id, version).get(clip_model)

    def _aesthetic_embeddings_for(self, user_id: str, version: int) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        for collection in self._client.list_collections():
            if not collection.name.startswith("tm_aesthetic_"):
                continue
            result = self._client.get_collection(collection.name, embedding_function=None).get(
                ids=[f"{user_id}@{version}"], include=["embeddings", "metadatas"]
            )
            embeddings = result["embeddings"]
            if result["ids"] and embeddings is not None:
                clip_model = str((result["metadatas"] or [{}])[0]["clip_model"])
                found[clip_model] = [float(x) for x in embeddings[0]]
        return found

    # -- internals ---------------------------------------------------------------------------

    def _find_by_norm(self, user_id: str, norms: Iterable[str]) -> dict[str, VisualAttribute]:
        wanted = sorted(set(norms))
        if not wanted:
            return {}
        where = cast(Where, {"$and": [{"user_id": user_id}, {"norm": {"$in": wanted}}]})
        result = self._attributes.get(
            where=where,
            include=["documents", "metadatas"],
        )
        return {
            a.normalized_text: a
            for a in (
                _from_record(i, d, m)
                for i, d, m in zip(
                    result["ids"], result["documents"] or [], result["metadatas"] or [], strict=True
                )
            )
        }

    def _merge_and_write(
        self, user_id: str, drafts: Sequence[AttributeDraft]
    ) -> list[VisualAttribute]:
        existing = self._find_by_norm(user_id, (normalize_attribute_text(d.text) for d in drafts))
        superseded: set[str] = set()
        results: list[VisualAttribute] = []
        for draft in drafts:
            norm = normalize_attribute_text(draft.text)
            previous = existing.get(norm)
            if previous is not None and previous.polarity is draft.polarity:
                merged = previous.model_copy(
                    update={
                        "strength": draft.strength,
                        "evidence": list(dict.fromkeys(previous.evidence + draft.evidence))[
                            -MAX_EVIDENCE_ITEMS:
                        ],
                        "updated_at": utc_now(),
                    }
                )
            else:
                if previous is not None:
                    superseded.add(previous.id)
                merged = VisualAttribute(user_id=user_id, **draft.model_dump())
            existing[norm] = merged
            results.append(merged)
        final = {a.id: a for a in existing.values() if a.id not in superseded}
        stale = superseded - final.keys()
        if stale:
            self._attributes.delete(ids=sorted(stale))
        self._upsert(list(final.values()))
        return [final.get(a.id, a) for a in results]

    def _upsert(self, attributes: Sequence[VisualAttribute]) -> None:
        if not attributes:
            return
        self._attributes.upsert(
            ids=[a.id for a in attributes],
            documents=[a.text for a in attributes],
            metadatas=[_to_metadata(a) for a in attributes],
            embeddings=np.asarray(
                self._embedder.embed(
                    [_embedding_text(a.text, a.category.value) for a in attributes]
                ),
                dtype=np.float32,
            ),
        )

    def _snapshot(
        self,
        user_id: str,
        reason: str,
        *,
        liked_images: list[ImageReaction] | None = None,
        disliked_images: list[ImageReaction] | None = None,
        at_least: int = 0,
    ) -> Profile:
        latest = self._versions.latest(user_id) or Profile(user_id=user_id)
        profile = latest.model_copy(
            update={
                "attributes": self.list_attributes(user_id),
                "liked_images": latest.liked_images if liked_images is None else liked_images,
                "disliked_images": (
                    latest.disliked_images if disliked_images is None else disliked_images
                ),
                "aesthetic_embeddings": {},
            }
        )
        return self._versions.append(profile, reason, at_least=at_least)
