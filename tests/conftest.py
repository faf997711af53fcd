"""Shared test setup: offline hub, one torch thread, and the project's real test doubles."""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from api.settings import Settings
from api.wiring.agent import build_extractor
from preference_store.embeddings import SentenceTransformerEmbedder, packaged_minilm_path
from tests.doubles.forker import SERVICE_IMPORTS, Forker

torch.set_num_threads(1)

pytest_plugins = ["tests.doubles.tiny_models", "tests.doubles.llm_server", "tests.doubles.postgres"]


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2, loaded once for the whole run."""
    return SentenceTransformerEmbedder(packaged_minilm_path())


@pytest.fixture(scope="session")
def service_forker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Forker]:
    """One process per test process that imported the service's libraries (API node and
    worker) once; the API nodes and workers of every module fork from it and start in 1-3 s
    instead of 10-25 s of imports each (tests/doubles/forker.py). Each child still builds its
    own app, engine, models and stores from its own ``TASTEMAKER_*`` settings."""
    forker = Forker(tmp_path_factory.mktemp("service-forker") / "forker.log", SERVICE_IMPORTS)
    try:
        yield forker
    finally:
        forker.close()


@pytest.fixture(scope="session")
def vocabulary_vectors(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Path:
    """The offline extractor's vocabulary vectors as a first start writes them under the cache
    dir (preference_store/vector_cache.py), made once per test process: every command or app
    that builds the extractor over a fresh data dir would otherwise spend seconds embedding the
    same 500+ phrases with the same model. Keyed by the model's fingerprint, so a test that
    configures another model misses and embeds; tests/test_vector_cache.py checks that the
    vectors read back are the model's own and that cold, warm and damaged caches read alike."""
    root = tmp_path_factory.mktemp("vocabulary")
    settings = Settings(data_dir=root / "data", cache_dir=root / "cache")
    build_extractor(settings, embedder)
    return root / "cache" / "vectors"


@pytest.fixture(scope="session")
def shared_cache_dir(vocabulary_vectors: Path) -> str:
    """The session's cache dir itself, as the services on one machine share theirs
    (``cache_dir=`` of the API nodes and workers that the uvicorn and Celery tests start)."""
    return str(vocabulary_vectors.parent)


@pytest.fixture()
def warm_cache(tmp_path: Path, vocabulary_vectors: Path) -> Path:
    """A cache dir (``Settings(cache_dir=...)``) holding the vocabulary vectors, for tests that
    build an app or components over a fresh data dir of their own."""
    shutil.copytree(vocabulary_vectors, tmp_path / "cache" / "vectors")
    return tmp_path / "cache"


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm_cache: Path) -> Iterator[Path]:
    """A fresh TASTEMAKER_DATA_DIR for tests that go through settings (CLI, app), and beside it
    a TASTEMAKER_CACHE_DIR with the vocabulary vectors already cached (as after a first start);
    the data dir itself starts empty."""
    directory = tmp_path / "data"
    monkeypatch.setenv("TASTEMAKER_CACHE_DIR", str(warm_cache))
    monkeypatch.setenv("TASTEMAKER_DATA_DIR", str(directory))
    yield directory


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow files first, wholly slow ones (a cluster of servers per module) before the rest (order
    kept otherwise): the parallel run hands out one file per process in this order, so it ends
    on short files rather than on a long one begun last."""
    fast_files = {item.path for item in items if not item.get_closest_marker("slow")}
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: (item.path in fast_files) + (item.path not in slow_files))
