"""Choices and the taste model in the profile: one person's pairs never reach another's, an
answer is taken once, and export/import keeps choices and model (real SQLite, MiniLM, tiny
CLIP, the built-in gallery)."""

from __future__ import annotations

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from sqlalchemy import Engine

from agent.builtin_gallery import ensure_builtin_gallery
from agent.gallery import Gallery
from api.taste import TasteService
from generation.clip import ClipBundle
from generation.taste_features import TasteFeatures
from preference_store.choices import ChoiceStore
from preference_store.database import create_schema, make_engine
from preference_store.embeddings import SentenceTransformerEmbedder
from preference_store.errors import InvalidImport, PairAnswered, PairNotFound
from preference_store.store import PreferenceStore
from preference_store.transfer import export_profile, import_profile

WARM = {"sunset-hills", "golden-sea", "desert-noon", "spotlit-figure", "earth-stripes"}


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> Gallery:
    return ensure_builtin_gallery(tmp_path_factory.mktemp("gallery"))


@pytest.fixture(scope="module")
def features(embedder: SentenceTransformerEmbedder, tiny_clip_bundle: ClipBundle) -> TasteFeatures:
    return TasteFeatures(embedder, tiny_clip_bundle)


@pytest.fixture()
def engine(tmp_path) -> Engine:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    create_schema(engine)
    return engine


@pytest.fixture()
def store(tmp_path, engine: Engine, embedder: SentenceTransformerEmbedder) -> PreferenceStore:  # type: ignore[no-untyped-def]
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    return PreferenceStore(client, embedder, engine)


@pytest.fixture()
def service(
    gallery: Gallery, features: TasteFeatures, engine: Engine, store: PreferenceStore
) -> TasteService:
    return TasteService(gallery, features, ChoiceStore(engine), store.current)


def _pick_warm(service: TasteService, user: str, rounds: int) -> None:
    pair = service.next_pair(user, None)
    for _ in range(rounds):
        assert pair is not None
        answer = "left" if pair.left in WARM else "right" if pair.right in WARM else "neither"
        pair = service.answer(user, None, pair.id, answer)


def test_fifteen_warm_choices_put_warm_images_first_and_keep_a_versioned_model(
    service: TasteService,
) -> None:
    _pick_warm(service, "alice", 15)
    ranking = [r.image.id for r in service.ranking("alice")]
    assert set(ranking[:5]) == WARM, ranking
    stored = service.choices.model("alice", service.features.name)
    assert stored is not None and stored.version == 15 and stored.choices == 15
    shown = [(c.left, c.right) for c in service.choices.history("alice")]
    assert len({frozenset(p) for p in shown}) == len(shown) == 16  # 15 answered + 1 waiting


def test_the_waiting_pair_is_shown_again_until_answered(service: TasteService) -> None:
    first = service.next_pair("alice", "s1")
    assert first is not None and service.next_pair("alice", "s1") == first
    assert service.next_pair("alice", "s2") != first  # another session waits on its own


def test_an_answer_is_taken_once_and_only_from_its_owner(service: TasteService) -> None:
    pair = service.next_pair("alice", "s1")
    assert pair is not None
    with pytest.raises(PairNotFound):
        service.answer("bob", None, pair.id, "left")
    with pytest.raises(PairNotFound):
        service.answer("alice", "s2", pair.id, "left")
    with pytest.raises(PairNotFound):
        service.answer("alice", "s1", "no-such-pair", "left")
    service.answer("alice", "s1", pair.id, "right")
    with pytest.raises(PairAnswered):
        service.answer("alice", "s1", pair.id, "left")
    assert service.counted("alice") == 1 and service.counted("bob") == 0
    assert service.choices.model("bob", service.features.name) is None
    assert [r.taste_match for r in service.ranking("bob")] == [0.5] * 24


def test_skip_counts_as_shown_but_teaches_nothing(service: TasteService) -> None:
    pair = service.next_pair("alice", None)
    assert pair is not None
    following = service.answer("alice", None, pair.id, "skip")
    assert following is not None and {following.left, following.right} != {pair.left, pair.right}
    assert service.counted("alice") == 0


def test_export_import_keeps_choices_and_the_model(
    service: TasteService, store: PreferenceStore
) -> None:
    _pick_warm(service, "alice", 6)
    document = export_profile(store, "alice", taste=service.choices)
    assert len(document["taste"]["choices"]) == 6
    assert len(str(document["taste"]["models"])) < 8000  # a few KB
    before = [r.taste_match for r in service.ranking("alice")]
    moved = {**document, "user_id": "carol"}
    import_profile(store, moved, taste=service.choices)
    assert service.counted("carol") == 6
    after = [r.taste_match for r in service.ranking("carol")]
    assert after == pytest.approx(before, abs=0.01)
    assert service.counted("alice") == 6  # alice's rows untouched; carol got her own ids
    import_profile(store, moved, taste=service.choices)
    assert service.counted("carol") == 6  # importing twice adds nothing


def test_a_malformed_taste_part_is_refused_and_changes_nothing(
    service: TasteService, store: PreferenceStore
) -> None:
    document = export_profile(store, "dave", taste=service.choices)
    bad = {**document, "taste": {"choices": [{"left": "x", "answer": "maybe"}]}}
    with pytest.raises(InvalidImport, match=r"taste\.choices"):
        import_profile(store, bad, taste=service.choices)
    model = {"feature_space": "x", "choices": 1, "version": 1, "dimension": 4, "weights": "!!",
             "center": "AAAAAAAAAAA="}  # fmt: skip
    with pytest.raises(InvalidImport, match=r"taste\.models"):
        import_profile(store, {**document, "taste": {"models": [model]}}, taste=service.choices)
    assert service.choices.history("dave") == [] and store.versions("dave") == []
