"""The offline extractor's vocabulary vectors are kept on disk: a second start reads them instead
of running the model, reads exactly what the model gave, and never trusts a damaged file."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from agent.offline import OfflineExtractor
from api.settings import Settings
from api.wiring.agent import build_extractor, build_offline_extractor
from api.wiring.services import embedding_fingerprint
from preference_store.embeddings import SentenceTransformerEmbedder
from preference_store.vector_cache import VocabularyCache
from tests.test_agent_support import COMMENTS

# Phrases outside the curated vocabulary, so the comment's own batch goes to the model too.
_UNUSUAL = ["the sumptuous drapery feels stiff", "I adore the french knots", "meh"]


class CountingEmbedder:
    """The real MiniLM, counting the texts it is asked to embed."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self._inner = inner
        self.texts = 0

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts += len(texts)
        return self._inner.embed(texts)


def _files(settings: Settings) -> list[Path]:
    return sorted((settings.resolved_cache_dir / "vectors").glob("vocabulary-*.npz"))


def _readings(extractor: object) -> list[str]:
    assert isinstance(extractor, OfflineExtractor)
    return [extractor.extract(comment).model_dump_json() for comment in [*COMMENTS, *_UNUSUAL]]


@pytest.fixture(scope="module")
def uncached_readings(embedder: SentenceTransformerEmbedder) -> list[str]:
    """What the extractor reads with no cache at all (the same model, so the same every time):
    computed once for the module rather than once per test."""
    return _readings(build_offline_extractor(embedder))


@pytest.fixture(scope="module")
def intact_vectors(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Path:
    """The vector files a first start writes, made once; each damage test starts from a copy."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("intact") / "data")
    build_extractor(settings, embedder)
    assert len(_files(settings)) == 2
    return settings.resolved_cache_dir / "vectors"


def test_a_second_start_reads_the_vectors_and_reads_the_same(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, uncached_readings: list[str]
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = CountingEmbedder(embedder)
    cold = build_extractor(settings, first)
    assert first.texts > 500  # the curated vocabulary and the labelled examples
    assert len(_files(settings)) == 2

    second = CountingEmbedder(embedder)
    warm = build_extractor(settings, second)
    assert second.texts == 0  # nothing embedded to start

    assert _readings(warm) == uncached_readings == _readings(cold)
    assert second.texts > 0  # comments' own phrases still go to the model, not the disk
    assert len(_files(settings)) == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda path, other: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
        lambda path, other: path.write_bytes(b"not a zip at all"),
        lambda path, other: path.write_bytes(other.read_bytes()),  # another batch's vectors
    ],
    ids=["truncated", "garbage", "another-batch"],
)
def test_a_damaged_file_is_rebuilt_not_trusted(
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
    damage: object,
    intact_vectors: Path,
    uncached_readings: list[str],
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    shutil.copytree(intact_vectors, settings.resolved_cache_dir / "vectors")
    vocabulary, examples = sorted(_files(settings), key=lambda p: p.stat().st_size, reverse=True)
    assert callable(damage)
    damage(vocabulary, examples)

    counting = CountingEmbedder(embedder)
    rebuilt = build_extractor(settings, counting)
    with np.load(vocabulary) as stored:  # whole again, from the model
        assert stored["vectors"].shape[0] == counting.texts > 500
    assert _readings(rebuilt) == uncached_readings


def test_another_model_or_vocabulary_is_a_miss(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    counting = CountingEmbedder(embedder)
    one = VocabularyCache(counting, tmp_path, "model A")
    other = VocabularyCache(counting, tmp_path, "model B")
    with one.persisting():
        stored = one.embed(["teal", "grain"])
    with one.persisting():
        assert one.embed(["teal", "grain"]) == stored
    assert counting.texts == 2
    with other.persisting():
        other.embed(["teal", "grain"])
    with one.persisting():
        one.embed(["grain", "teal"])  # the same words in another order: another batch
    one.embed(["teal", "grain"])  # outside `persisting`: straight to the model
    assert counting.texts == 8
    assert len(list(tmp_path.glob("vocabulary-*.npz"))) == 3


def test_the_fingerprint_follows_the_model(tmp_path: Path) -> None:
    packaged = embedding_fingerprint(Settings(data_dir=tmp_path))
    assert packaged.startswith("all-MiniLM-L6-v2\n") and "model.safetensors" in packaged
    assert "sentence-transformers " in packaged
    other = embedding_fingerprint(Settings(data_dir=tmp_path, embedding_model="some/other-model"))
    assert other != packaged
