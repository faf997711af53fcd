"""Shared test setup: offline hub, one torch thread, and the project's real test doubles."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from preference_store.embeddings import SentenceTransformerEmbedder, packaged_minilm_path

torch.set_num_threads(1)

pytest_plugins = ["tests.doubles.tiny_models", "tests.doubles.llm_server", "tests.doubles.postgres"]


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2, loaded once for the whole run."""
    return SentenceTransformerEmbedder(packaged_minilm_path())


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh TASTEMAKER_DATA_DIR for tests that go through settings (CLI, app)."""
    directory = tmp_path / "data"
    monkeypatch.setenv("TASTEMAKER_DATA_DIR", str(directory))
    yield directory


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow files first, wholly slow ones (a cluster of servers per module) before the rest (order
    kept otherwise): the parallel run hands out one file per process in this order, so it ends
    on short files rather than on a long one begun last."""
    fast_files = {item.path for item in items if not item.get_closest_marker("slow")}
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: (item.path in fast_files) + (item.path not in slow_files))
