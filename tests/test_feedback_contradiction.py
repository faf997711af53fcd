"""Changing one's mind about the same image replaces the earlier reaction, not stacks on it."""

from __future__ import annotations

from pathlib import Path

import chromadb
from chromadb.config import Settings as ChromaSettings

from preference_store.database import create_schema, make_engine
from preference_store.embeddings import SentenceTransformerEmbedder
from preference_store.models import AttributeDraft, ImageReaction, Polarity
from preference_store.store import PreferenceStore


def test_disliking_a_liked_image_replaces_what_its_first_comment_said(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    create_schema(engine)
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    store = PreferenceStore(client, embedder, engine)
    store.add("alice", [AttributeDraft(text="teal palette", polarity=Polarity.LIKE)])
    image = ImageReaction(image_id="generation-7", weight=1.0)
    other = ImageReaction(image_id="generation-8", weight=1.0)

    def said(text: str, polarity: Polarity, source: str) -> AttributeDraft:
        return AttributeDraft(text=text, polarity=polarity, source=source)

    store.record_feedback(
        "alice", [said("soft glow", Polarity.LIKE, "generation-8")], other, Polarity.LIKE
    )
    store.record_feedback(
        "alice", [said("warm golden light", Polarity.LIKE, "generation-7")], image, Polarity.LIKE
    )
    changed = store.record_feedback(
        "alice", [said("muddy shadows", Polarity.DISLIKE, "generation-7")], image, Polarity.DISLIKE
    )
    texts = {(a.text, a.polarity) for a in changed.attributes}
    assert texts == {
        ("teal palette", Polarity.LIKE),  # added by hand: kept
        ("soft glow", Polarity.LIKE),  # from another image: kept
        ("muddy shadows", Polarity.DISLIKE),  # the new reaction to generation-7
    }
    assert [r.image_id for r in changed.liked_images] == ["generation-8"]
    assert [r.image_id for r in changed.disliked_images] == ["generation-7"]
    # search agrees: the replaced attribute is gone from chromadb too
    assert "warm golden light" not in {h.attribute.text for h in store.search("alice", "light")}
