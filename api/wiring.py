"""Composition root helpers: settings in, ready objects out. Used by the CLI and the app lifespan.

Each builder loads what it needs once; callers keep the result for the life of the process.
"""

from __future__ import annotations

import chromadb
from chromadb.api import ClientAPI
from chromadb.config import Settings as ChromaSettings
from sqlalchemy import Engine

from api.settings import PACKAGED_MINILM, Settings
from preference_store.accounts import Accounts
from preference_store.database import create_schema, make_engine
from preference_store.embeddings import SentenceTransformerEmbedder, packaged_minilm_path
from preference_store.store import PreferenceStore
from preference_store.styles import StyleStore  # also registers its table before create_all

_PACKAGED_ALIASES = {PACKAGED_MINILM, f"sentence-transformers/{PACKAGED_MINILM}"}


def load_settings() -> Settings:
    return Settings()


def open_engine(settings: Settings) -> Engine:
    """The relational database, with every table created (import table modules first)."""
    import agent  # noqa: F401  (registers the agent's tables on the shared Base)

    engine = make_engine(settings.resolved_database_url)
    create_schema(engine)
    return engine


def open_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    name = settings.embedding_model
    if name in _PACKAGED_ALIASES:
        return SentenceTransformerEmbedder(packaged_minilm_path(), name=PACKAGED_MINILM)
    return SentenceTransformerEmbedder(name)


def open_chroma(settings: Settings) -> ClientAPI:
    """Embedded chromadb under the data dir, or a Chroma server when a URL is set."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        from urllib.parse import urlparse

        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


def open_store(
    settings: Settings,
    *,
    engine: Engine | None = None,
    embedder: SentenceTransformerEmbedder | None = None,
) -> PreferenceStore:
    return PreferenceStore(
        open_chroma(settings),
        embedder or open_embedder(settings),
        engine or open_engine(settings),
    )


def open_accounts(settings: Settings, *, engine: Engine | None = None) -> Accounts:
    return Accounts(engine or open_engine(settings))


class Components:
    """Builds each component on first use and keeps it, so a command loads only what it needs."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self._engine: Engine | None = None
        self._embedder: SentenceTransformerEmbedder | None = None
        self._store: PreferenceStore | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_engine(self.settings)
        return self._engine

    @property
    def embedder(self) -> SentenceTransformerEmbedder:
        if self._embedder is None:
            self._embedder = open_embedder(self.settings)
        return self._embedder

    @property
    def store(self) -> PreferenceStore:
        if self._store is None:
            self._store = open_store(self.settings, engine=self.engine, embedder=self.embedder)
        return self._store

    @property
    def accounts(self) -> Accounts:
        return Accounts(self.engine)

    @property
    def styles(self) -> StyleStore:
        return StyleStore(self.engine)
