"""PreferenceStore against real chromadb, embedded and over HTTP to a real `chroma run`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from pydantic import ValidationError

from preference_store.database import create_schema, make_engine
from preference_store.embeddings import SentenceTransformerEmbedder
from preference_store.errors import (
    AttributeConflict,
    AttributeNotFound,
    InvalidImport,
    StoreMismatch,
    VersionNotFound,
)
from preference_store.models import (
    AttributeDraft,
    AttributeUpdate,
    Category,
    ImageReaction,
    Polarity,
)
from preference_store.store import PreferenceStore
from preference_store.transfer import export_profile, import_profile
from tests.doubles.chroma_server import chroma_server_url  # noqa: F401  (fixture)

LIKE, DISLIKE = Polarity.LIKE, Polarity.DISLIKE


def draft(text: str, polarity: Polarity = LIKE, **fields: object) -> AttributeDraft:
    return AttributeDraft(text=text, polarity=polarity, **fields)  # type: ignore[arg-type]


@pytest.fixture(params=["embedded", "server"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[PreferenceStore]:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    create_schema(engine)
    settings = ChromaSettings(anonymized_telemetry=False)
    if request.param == "embedded":
        client = chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=settings)
    else:
        url = request.getfixturevalue("chroma_server_url")
        host, port = url.removeprefix("http://").split(":")
        client = chromadb.HttpClient(host=host, port=int(port), settings=settings)
        for collection in client.list_collections():  # the server lives for the whole session
            client.delete_collection(collection.name)
    yield PreferenceStore(client, embedder, engine)


def test_add_then_list_round_trips_every_field(store: PreferenceStore) -> None:
    (stored,) = store.add(
        "alice",
        [
            draft(
                "Teal palette",
                category=Category.COLOR,
                strength=0.8,
                evidence=["love the teal"],
                source="img-3",
            )
        ],
    )
    (listed,) = store.list_attributes("alice")
    assert listed == stored
    assert (listed.text, listed.category, listed.polarity, listed.strength) == (
        "Teal palette",
        Category.COLOR,
        LIKE,
        0.8,
    )
    assert listed.evidence == ["love the teal"] and listed.source == "img-3"


def test_profile_groups_by_category_and_polarity(store: PreferenceStore) -> None:
    store.add(
        "alice",
        [
            draft("teal palette", category=Category.COLOR),
            draft("muddy browns", DISLIKE, category=Category.COLOR),
            draft("soft light", category=Category.LIGHTING),
        ],
    )
    groups = store.profile("alice").grouped()
    assert [a.text for a in groups[Category.COLOR][LIKE]] == ["teal palette"]
    assert [a.text for a in groups[Category.COLOR][DISLIKE]] == ["muddy browns"]
    assert list(groups) == [Category.COLOR, Category.LIGHTING]


def test_search_ranks_by_meaning_within_one_user(store: PreferenceStore) -> None:
    store.add(
        "alice",
        [
            draft("gritty texture", category=Category.TEXTURE),
            draft("low camera angle", DISLIKE, category=Category.PERSPECTIVE),
            draft("teal palette", category=Category.COLOR),
        ],
    )
    store.add("bob", [draft("blue colours", category=Category.COLOR)])
    hits = store.search("alice", "blue colours")
    assert hits[0].attribute.text == "teal palette"
    assert {h.attribute.user_id for h in hits} == {"alice"}
    assert hits[0].score > hits[1].score


def test_users_never_see_each_others_attributes(store: PreferenceStore) -> None:
    (alice_attr,) = store.add("alice", [draft("teal palette")])
    store.add("bob", [draft("neon glow")])
    assert [a.text for a in store.list_attributes("bob")] == ["neon glow"]
    assert store.search("bob", "teal palette")[0].attribute.text == "neon glow"
    with pytest.raises(AttributeNotFound):
        store.get("bob", alice_attr.id)
    with pytest.raises(AttributeNotFound):
        store.update("bob", alice_attr.id, AttributeUpdate(strength=0.1))
    with pytest.raises(AttributeNotFound):
        store.delete("bob", alice_attr.id)
    store.delete_user("bob")
    assert store.get("alice", alice_attr.id) == alice_attr
    assert store.list_attributes("bob") == []


def test_same_text_same_polarity_merges(store: PreferenceStore) -> None:
    (first,) = store.add("alice", [draft("teal palette", strength=0.5, evidence=["nice teal"])])
    (second,) = store.add("alice", [draft("  TEAL   palette ", strength=0.9, evidence=["love it"])])
    (only,) = store.list_attributes("alice")
    assert only.id == first.id == second.id
    assert only.strength == 0.9
    assert only.evidence == ["nice teal", "love it"]


def test_same_text_opposite_polarity_supersedes(store: PreferenceStore) -> None:
    (old,) = store.add("alice", [draft("heavy vignette")])
    store.add("alice", [draft("Heavy vignette", DISLIKE, evidence=["too dark now"])])
    (only,) = store.list_attributes("alice")
    assert only.polarity is DISLIKE and only.id != old.id
    old_version = store.profile_at("alice", 1)
    assert [(a.text, a.polarity) for a in old_version.attributes] == [("heavy vignette", LIKE)]


def test_merge_rules_apply_within_one_batch(store: PreferenceStore) -> None:
    results = store.add(
        "alice", [draft("soft light", strength=0.4), draft("Soft light", strength=0.6)]
    )
    assert results[0].id == results[1].id
    (only,) = store.list_attributes("alice")
    assert only.strength == 0.6


def test_update_and_delete_one(store: PreferenceStore) -> None:
    teal, _ = store.add("alice", [draft("teal palette"), draft("neon glow")])
    edited = store.update("alice", teal.id, AttributeUpdate(polarity=DISLIKE, strength=0.2))
    assert store.get("alice", teal.id) == edited
    assert (edited.polarity, edited.strength) == (DISLIKE, 0.2)
    with pytest.raises(AttributeConflict):
        store.update("alice", teal.id, AttributeUpdate(text="Neon glow"))
    store.delete("alice", teal.id)
    assert [a.text for a in store.list_attributes("alice")] == ["neon glow"]
    with pytest.raises(AttributeNotFound):
        store.get("alice", teal.id)


def test_every_edit_makes_a_readable_version(store: PreferenceStore) -> None:
    (teal,) = store.add("alice", [draft("teal palette")])
    store.update("alice", teal.id, AttributeUpdate(strength=0.1))
    store.set_images("alice", [ImageReaction(image_id="g-01", weight=0.9)], [])
    store.delete("alice", teal.id)
    versions = store.versions("alice")
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert [v.attribute_count for v in versions] == [1, 1, 1, 0]
    assert store.profile_at("alice", 2).attributes[0].strength == 0.1
    assert store.profile_at("alice", 3).liked_images[0].image_id == "g-01"
    assert store.profile("alice").version == 4
    with pytest.raises(VersionNotFound):
        store.profile_at("alice", 99)


def test_onboarding_is_one_version_with_images(store: PreferenceStore) -> None:
    profile = store.record_onboarding(
        "alice",
        [draft("teal palette"), draft("cluttered composition", DISLIKE)],
        [ImageReaction(image_id="g-01", weight=1.0)],
        [ImageReaction(image_id="g-02", weight=0.5)],
    )
    assert profile.version == 1
    assert [v.reason for v in store.versions("alice")] == ["onboarding"]
    current = store.profile("alice")
    assert [i.image_id for i in current.liked_images] == ["g-01"]
    assert {a.text for a in current.disliked()} == {"cluttered composition"}


def test_aesthetic_embedding_is_kept_per_version_and_clip_model(store: PreferenceStore) -> None:
    store.add("alice", [draft("teal palette")])
    store.put_aesthetic_embedding("alice", 1, "clip-a", [0.25, 0.5, 0.75])
    store.put_aesthetic_embedding("alice", 1, "clip-b", [1.0, 0.0])
    assert store.get_aesthetic_embedding("alice", 1, "clip-a") == [0.25, 0.5, 0.75]
    assert store.profile("alice").aesthetic_embeddings == {
        "clip-a": [0.25, 0.5, 0.75],
        "clip-b": [1.0, 0.0],
    }
    store.add("alice", [draft("neon glow")])
    assert store.get_aesthetic_embedding("alice", 2, "clip-a") is None  # a new version recomputes
    assert store.get_aesthetic_embedding("bob", 1, "clip-a") is None


def test_export_import_export_is_identical(store: PreferenceStore) -> None:
    store.record_onboarding(
        "alice",
        [
            draft("teal palette", evidence=["the teal!"], source="m-1"),
            draft("clutter", DISLIKE, category=Category.COMPOSITION, strength=0.33),
        ],
        [ImageReaction(image_id="g-01", weight=0.8, path="/tmp/g-01.png")],
        [ImageReaction(image_id="g-02")],
    )
    store.put_aesthetic_embedding("alice", 1, "clip-a", [0.25, 0.5])
    exported = export_profile(store, "alice")
    assert json.loads(json.dumps(exported)) == exported

    assert import_profile(store, exported).version == 1  # re-importing the same is a no-op
    assert export_profile(store, "alice") == exported

    store.delete_user("alice")
    assert store.list_attributes("alice") == []
    import_profile(store, exported)
    assert export_profile(store, "alice") == exported


def test_import_replaces_and_makes_a_new_version(store: PreferenceStore) -> None:
    store.add("alice", [draft("teal palette")])
    exported = export_profile(store, "alice")
    store.add("alice", [draft("neon glow")])
    restored = import_profile(store, exported)
    assert [a.text for a in restored.attributes] == ["teal palette"]
    assert restored.version == 3


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"schema": "something.else", "schema_version": 1},
        {"schema": "tastemaker.profile", "schema_version": 99, "user_id": "alice"},
        {
            "schema": "tastemaker.profile",
            "schema_version": 1,
            "user_id": "alice",
            "attributes": [{"text": "x", "polarity": "maybe"}],
        },
        {"schema": "tastemaker.profile", "schema_version": 1, "user_id": "../etc"},
    ],
)
def test_malformed_import_is_refused_and_changes_nothing(
    store: PreferenceStore, document: object
) -> None:
    store.add("alice", [draft("teal palette")])
    before = export_profile(store, "alice")
    with pytest.raises(InvalidImport):
        import_profile(store, document)
    assert export_profile(store, "alice") == before


def test_import_refuses_attributes_of_another_user(store: PreferenceStore) -> None:
    store.add("alice", [draft("teal palette")])
    document = export_profile(store, "alice")
    document["user_id"] = "mallory"
    with pytest.raises(InvalidImport, match="belongs to 'alice'"):
        import_profile(store, document)
    assert store.list_attributes("mallory") == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": ""}, "empty"),
        ({"text": "x" * 10_000}, "characters"),
        ({"text": "one two three four five six seven"}, "words"),
        ({"text": "teal", "category": "flavour"}, "category"),
        ({"text": "teal", "strength": 7}, "less than or equal to 1"),
        ({"text": "teal", "strength": float("nan")}, "finite"),
    ],
)
def test_bad_attributes_are_refused_before_the_store(
    store: PreferenceStore, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        AttributeDraft(polarity=LIKE, **fields)  # type: ignore[arg-type]
    assert store.versions("alice") == []


def test_store_refuses_a_collection_built_with_another_model(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    create_schema(engine)
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    client.create_collection(
        "tm_attributes", embedding_function=None, metadata={"model": "other", "dimension": 3}
    )
    with pytest.raises(StoreMismatch, match="384"):
        PreferenceStore(client, embedder, engine)


def test_feedback_is_one_version_with_attributes_and_the_image(store: PreferenceStore) -> None:
    store.add("alice", [draft("teal palette")])
    reaction = ImageReaction(image_id="generation-1", weight=1.0)
    first = store.record_feedback("alice", [draft("soft glow")], reaction, LIKE)
    assert first.version == 2
    assert {a.text for a in first.attributes} == {"teal palette", "soft glow"}
    assert [r.image_id for r in first.liked_images] == ["generation-1"]
    changed_mind = store.record_feedback("alice", [], reaction, DISLIKE)
    assert changed_mind.liked_images == []
    assert [r.image_id for r in changed_mind.disliked_images] == ["generation-1"]
    assert [v.version for v in store.versions("alice")] == [1, 2, 3]


def test_a_second_onboarding_keeps_reactions_to_other_images(store: PreferenceStore) -> None:
    store.record_onboarding(
        "alice",
        [draft("teal palette")],
        [ImageReaction(image_id="g-01")],
        [ImageReaction(image_id="g-02")],
    )
    second = store.record_onboarding(
        "alice",
        [draft("soft glow")],
        [ImageReaction(image_id="g-02")],
        [ImageReaction(image_id="g-03")],
    )
    assert [r.image_id for r in second.liked_images] == ["g-01", "g-02"]
    assert [r.image_id for r in second.disliked_images] == ["g-03"]  # g-02: changed mind


def test_an_import_naming_another_users_ids_cannot_touch_their_records(
    store: PreferenceStore,
) -> None:
    (teal,) = store.add("alice", [draft("teal palette")])
    forged = export_profile(store, "alice")
    forged["user_id"] = "mallory"
    for attribute in forged["attributes"]:
        attribute["user_id"] = "mallory"
        attribute["text"] = "neon glow"
    import_profile(store, forged)
    store.delete("mallory", teal.id)  # mallory's copy carries alice's id
    assert store.search("alice", "blue colours")[0].attribute == teal
    assert store.list_attributes("mallory") == []


def test_import_refuses_oversized_aesthetic_embeddings(store: PreferenceStore) -> None:
    store.add("alice", [draft("teal palette")])
    document = export_profile(store, "alice")
    document["aesthetic_embeddings"] = {f"clip-{i}": [0.5] for i in range(9)}
    with pytest.raises(InvalidImport, match="at most 8"):
        import_profile(store, document)
