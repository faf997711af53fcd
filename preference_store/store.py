"""PreferenceStore: a person's attributes and aesthetic embeddings in chromadb, versions in SQL.

Writes apply the merge rules of ``merging.py``. Users never see, merge with, or search each
other's attributes: every read and write goes through the user's own current profile, and
chromadb records are keyed by owner and id.

Where things live: every change writes the whole profile as a new version in the relational
database (``versions.py``); the newest version is the current profile. chromadb holds each
attribute's record and vector, fetched by id for search, and the aesthetic embeddings
(``aesthetic_cache.py``). Reads by id stay flat as users grow; chromadb's metadata filters do
not (bench/store.py). What one person may store is bounded by ``quota.py``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine

from preference_store.aesthetic_cache import AestheticCache, open_collection
from preference_store.attribute_records import record_id, repair_records, sync_records
from preference_store.embeddings import TextEmbedder
from preference_store.errors import AttributeConflict, AttributeNotFound
from preference_store.merging import chosen_differs, merge_chosen, merge_drafts, merge_reactions
from preference_store.models import (
    AttributeDraft,
    AttributeUpdate,
    ImageReaction,
    Polarity,
    Profile,
    ProfileVersionInfo,
    ScoredAttribute,
    VisualAttribute,
    utc_now,
)
from preference_store.profiles import Profiles
from preference_store.quota import DEFAULT_QUOTA, Quota, Usage
from preference_store.reference_cache import ReferenceCache
from preference_store.versions import Also, VersionKey, VersionLog, VersionTaken

WRITE_ATTEMPTS = 32  # concurrent writers of one profile (API processes) that never starve

if TYPE_CHECKING:  # the client is injected; importing chromadb here would cost every reader
    from chromadb.api import ClientAPI

ATTRIBUTES_COLLECTION = "tm_attributes"


def _ranked(attributes: Sequence[VisualAttribute]) -> list[VisualAttribute]:
    return sorted(attributes, key=lambda a: (-a.strength, a.text))


class PreferenceStore:
    """Attributes (searchable), image reactions, aesthetic embeddings and versions per user.

    Components are injected: a chromadb client (embedded or HTTP), the text embedder, and the
    SQLAlchemy engine whose schema holds the version log. chromadb never embeds anything itself.
    """

    def __init__(
        self,
        client: ClientAPI,
        embedder: TextEmbedder,
        engine: Engine,
        *,
        quota: Quota = DEFAULT_QUOTA,
    ) -> None:
        self._client = client
        self.quota = quota
        self.max_attributes = quota.max_attributes
        self._evidence = quota.max_evidence_per_attribute
        self._embedder = embedder
        self._versions = VersionLog(engine, quota)
        # SQLite reads a local file in WAL mode, where readers never wait for writers: a
        # version look-up is tens of microseconds and never waits on a network.
        self.local_reads = engine.dialect.name == "sqlite"
        self.profiles = Profiles(engine, quota)  # a person's named profiles share the quota
        self._write_lock = threading.RLock()
        self._attributes = open_collection(
            client, ATTRIBUTES_COLLECTION, dimension=embedder.dimension, model=embedder.name
        )
        self._aesthetic = AestheticCache(client)
        self.references = ReferenceCache(client)  # style-reference embeddings (IP-Adapter)

    @property
    def embedder(self) -> TextEmbedder:
        """The text embedder the store searches with (shared, e.g. to guess categories)."""
        return self._embedder

    # -- reads -------------------------------------------------------------------------------

    def _current(self, user_id: str) -> Profile:
        return self._versions.latest(user_id) or Profile(user_id=user_id)

    def current_version(self, user_id: str) -> VersionKey | None:
        """Which version is current, without reading it (None: the user has none yet)."""
        return self._versions.newest(user_id)

    def current(self, user_id: str) -> Profile:
        """The current profile as stored (attributes in stored order, no aesthetic embeddings):
        one indexed look-up, the parse cached per version. The object is shared with every
        reader of that version: never change it."""
        return self._current(user_id)

    def list_attributes(self, user_id: str) -> list[VisualAttribute]:
        """All of one user's attributes, strongest first."""
        return _ranked(self._current(user_id).attributes)

    def profile(self, user_id: str, *, with_aesthetic: bool = True) -> Profile:
        """The current profile; ``with_aesthetic`` adds the embeddings cached for its version
        (one chromadb look-up per CLIP model, which a plain listing does not need)."""
        current = self._current(user_id)
        embeddings = self._aesthetic.of(user_id, current.version) if with_aesthetic else {}
        return current.model_copy(
            update={"attributes": _ranked(current.attributes), "aesthetic_embeddings": embeddings}
        )

    def get(self, user_id: str, attribute_id: str) -> VisualAttribute:
        """One attribute; another user's id looks exactly like an unknown one."""
        return _find(self._current(user_id), attribute_id)

    def search(self, user_id: str, query: str, *, limit: int = 10) -> list[ScoredAttribute]:
        """One user's attributes by meaning, most relevant first.

        An exact cosine scan over the user's own vectors, fetched by id, rather than chromadb's
        filtered HNSW query: a person has tens to hundreds of attributes, and a filtered graph
        search slows down as *other* users' attributes grow (bench/store.py); this does not.
        """
        attributes = self._current(user_id).attributes
        if not query.strip() or limit < 1 or not attributes:
            return []
        result = self._attributes.get(
            ids=[record_id(a) for a in attributes], include=["embeddings"]
        )
        vectors = result["embeddings"]
        if vectors is None or not result["ids"]:
            return []
        by_id = {record_id(a): a for a in attributes}
        query_vector = np.asarray(self._embedder.embed([query])[0], dtype=np.float32)
        similarities = np.asarray(vectors, dtype=np.float32) @ query_vector
        best = np.argsort(-similarities, kind="stable")[:limit]
        return [
            ScoredAttribute(
                attribute=by_id[result["ids"][i]], score=round(float(similarities[i]), 6)
            )
            for i in best
        ]

    def versions(self, user_id: str) -> list[ProfileVersionInfo]:
        return self._versions.list(user_id)

    def profile_at(self, user_id: str, version: int) -> Profile:
        """A past (or the current) version exactly as it was."""
        profile = self._versions.get(user_id, version)
        return profile.model_copy(
            update={"aesthetic_embeddings": self._aesthetic.of(user_id, version)}
        )

    # -- writes: each is one new version ----------------------------------------------------

    def add(
        self, user_id: str, drafts: Sequence[AttributeDraft], *, reason: str = "edit"
    ) -> list[VisualAttribute]:
        """Add attributes under the merge rules; returns the stored form of each draft."""
        results: list[VisualAttribute] = []

        def change(profile: Profile) -> Profile:
            attributes, stored = merge_drafts(user_id, profile.attributes, drafts, self._evidence)
            results[:] = stored
            return profile.model_copy(update={"attributes": attributes})

        self._change(user_id, reason, change)
        return results

    def record_onboarding(
        self,
        user_id: str,
        drafts: Sequence[AttributeDraft],
        liked_images: Sequence[ImageReaction],
        disliked_images: Sequence[ImageReaction],
        *,
        origin: str | None = None,
        chosen: Sequence[ImageReaction] | None = None,
    ) -> Profile:
        """Store what an onboarding learned, and the images reacted to, as one new version;
        reactions to other images, from earlier onboardings or feedback, are kept. ``chosen``
        (images picked in pairs) replaces the chosen images; None keeps them.

        With ``origin`` (the session), this happens once: a retry after a crash, or a second
        finisher, gets the version the first one stored."""

        def change(profile: Profile) -> Profile:
            attributes, _ = merge_drafts(user_id, profile.attributes, drafts, self._evidence)
            liked, disliked = merge_reactions(profile, liked_images, disliked_images)
            merged = profile.model_copy(update={"liked_images": liked, "disliked_images": disliked})
            if chosen is not None:
                liked = merge_chosen(merged, chosen, self.quota.max_profile_images)
            return profile.model_copy(
                update={
                    "attributes": attributes,
                    "liked_images": liked,
                    "disliked_images": disliked,
                }
            )

        return self._change(user_id, "onboarding", change, origin=origin)

    def record_feedback(
        self,
        user_id: str,
        drafts: Sequence[AttributeDraft],
        reaction: ImageReaction,
        polarity: Polarity,
        *,
        reason: str = "feedback",
    ) -> Profile:
        """A comment's attributes and the image as a like or dislike, as one new version.

        An earlier reaction to the same image is replaced, with the attributes that came from
        it (``source`` equal to the image id): a person who liked an image and then disliked it
        changed their mind, and both opinions must not stay in force at once.
        """

        def change(profile: Profile) -> Profile:
            kept = [a for a in profile.attributes if a.source != reaction.image_id]
            attributes, _ = merge_drafts(user_id, kept, drafts, self._evidence)
            liked, disliked = merge_reactions(
                profile,
                [reaction] if polarity is Polarity.LIKE else [],
                [reaction] if polarity is Polarity.DISLIKE else [],
            )
            return profile.model_copy(
                update={
                    "attributes": attributes,
                    "liked_images": liked,
                    "disliked_images": disliked,
                }
            )

        return self._change(user_id, reason, change)

    def set_images(
        self,
        user_id: str,
        liked_images: Sequence[ImageReaction],
        disliked_images: Sequence[ImageReaction],
        *,
        reason: str = "images",
    ) -> Profile:
        """Replace the liked/disliked images (the aesthetic embedding's input)."""
        return self._change(
            user_id,
            reason,
            lambda p: p.model_copy(
                update={
                    "liked_images": list(liked_images),
                    "disliked_images": list(disliked_images),
                }
            ),
        )

    def set_chosen(
        self, user_id: str, chosen: Sequence[ImageReaction], *, reason: str = "choices"
    ) -> Profile:
        """Replace the images picked in pairs (design.md, "Taste from choices": chosen images)
        as one new version; none when the set would not change."""
        room = self.quota.max_profile_images
        current = self.profile(user_id)
        if not chosen_differs(current, chosen, room):
            return current
        return self._change(
            user_id,
            reason,
            lambda p: p.model_copy(update={"liked_images": merge_chosen(p, chosen, room)}),
        )

    def update(self, user_id: str, attribute_id: str, change: AttributeUpdate) -> VisualAttribute:
        """Edit one attribute in place (same id)."""
        fields = change.model_dump(exclude_none=True)
        if not fields:
            return self.get(user_id, attribute_id)
        edited: list[VisualAttribute] = []

        def apply(profile: Profile) -> Profile:
            current = _find(profile, attribute_id)
            updated = VisualAttribute.model_validate(
                {**current.model_dump(), **fields, "updated_at": utc_now()}
            )
            if any(
                a.id != attribute_id and a.normalized_text == updated.normalized_text
                for a in profile.attributes
            ):
                raise AttributeConflict(
                    f"you already have an attribute {updated.text!r}; edit or delete that one"
                )
            edited[:] = [updated]
            return profile.model_copy(
                update={
                    "attributes": [
                        updated if a.id == attribute_id else a for a in profile.attributes
                    ]
                }
            )

        self._change(user_id, f"edit {attribute_id}", apply)
        return edited[0]

    def delete(self, user_id: str, attribute_id: str) -> None:
        def apply(profile: Profile) -> Profile:
            _find(profile, attribute_id)
            remaining = [a for a in profile.attributes if a.id != attribute_id]
            return profile.model_copy(update={"attributes": remaining})

        gone = _find(self._current(user_id), attribute_id)  # the history says it in words
        self._change(user_id, f"delete: {gone.polarity.value} {gone.text}", apply)

    def restore(
        self, profile: Profile, *, reason: str = "import", also: Also | None = None
    ) -> Profile:
        """Make ``profile`` the user's current state (ids and times kept) as the user's next
        version (committed with ``also``'s writes): the number is this store's, never the
        document's (a huge one would leave no room for the next write)."""
        copy = profile.model_copy(update={"aesthetic_embeddings": {}})
        restored = self._change(profile.user_id, reason, lambda _current: copy, also=also)
        for clip_model, vector in profile.aesthetic_embeddings.items():
            self.put_aesthetic_embedding(profile.user_id, restored.version, clip_model, vector)
        return self.profile(profile.user_id)

    def delete_user(self, user_id: str) -> None:
        """Forget a person entirely: attributes, versions and aesthetic embeddings."""
        with self._write_lock:
            self._attributes.delete(where={"user_id": user_id})
            self._aesthetic.delete_user(user_id)
            self.references.delete_user(user_id)
            self._versions.delete_user(user_id)

    # -- aesthetic embeddings (``aesthetic_cache``) ----------------------------------------

    def put_aesthetic_embedding(
        self, user_id: str, version: int, clip_model: str, vector: Sequence[float]
    ) -> None:
        """Cache the aesthetic embedding a CLIP model made for one profile version."""
        self._aesthetic.put(user_id, version, clip_model, vector)

    def get_aesthetic_embedding(
        self, user_id: str, version: int, clip_model: str
    ) -> list[float] | None:
        return self._aesthetic.of(user_id, version).get(clip_model)

    # -- internals ---------------------------------------------------------------------------

    def _change(
        self,
        user_id: str,
        reason: str,
        change: Callable[[Profile], Profile],
        *,
        origin: str | None = None,
        also: Also | None = None,
    ) -> Profile:
        """Apply ``change`` to the current profile and store the result as the next version.

        The version row is written first (its unique number is the commit point; a concurrent
        writer makes us recompute on the newer version), then chromadb is brought in line.
        A change with an ``origin`` that already made a version is not applied again; the
        records a crash may have left out of chromadb are written instead. Each lost race means
        another writer's version landed, so with W processes writing one profile at once a writer
        needs at most W tries; the jittered pause spreads the retries.
        """
        with self._write_lock:
            for attempt in range(WRITE_ATTEMPTS):
                if attempt:
                    time.sleep(random.uniform(0, 0.002 * attempt))
                done = self._versions.version_from(user_id, origin) if origin else None
                if done is not None:
                    repair_records(
                        self._attributes, self._embedder, self._current(user_id).attributes
                    )
                    return self._versions.get(user_id, done)
                before = self._current(user_id)
                after = change(before).model_copy(update={"version": before.version + 1})
                others = [o for o in self.profiles.owners(user_id) if o != user_id]
                self.quota.check(before, after, self._usage(others))
                try:
                    stored = self._versions.append(after, reason, origin=origin, also=also)
                except VersionTaken:
                    continue
                sync_records(self._attributes, self._embedder, before.attributes, stored.attributes)
                self._aesthetic.forget(user_id, self._versions.compact(user_id, others))
                return stored
        raise RuntimeError(f"could not store a new version of {user_id!r}: too many writers")

    def _usage(self, owners: Sequence[str]) -> Usage:
        """What the person's other profiles hold (their current versions)."""
        profiles = [self._current(owner) for owner in owners]
        return Usage(
            attributes=sum(len(p.attributes) for p in profiles),
            images=sum(len(p.liked_images) + len(p.disliked_images) for p in profiles),
        )


def _find(profile: Profile, attribute_id: str) -> VisualAttribute:
    for attribute in profile.attributes:
        if attribute.id == attribute_id:
            return attribute
    raise AttributeNotFound(attribute_id)
