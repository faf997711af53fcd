"""Composition root helpers: settings in, ready objects out. Used by the CLI and the app lifespan.

Each builder loads what it needs once; callers keep the result for the life of the process.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from api.settings import PACKAGED_MINILM, Settings
from preference_store.embeddings import (
    LazyEmbedder,
    SentenceTransformerEmbedder,
    TextEmbedder,
    declared_dimension,
    packaged_minilm_path,
)

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from sqlalchemy import Engine

    from preference_store.accounts import Accounts
    from preference_store.blobs import BlobStore
    from preference_store.profiles import Profiles
    from preference_store.store import PreferenceStore
    from preference_store.styles import StyleStore
    from preference_store.vector_cache import VocabularyCache
    from preference_store.versions import VersionLog

# Every CLI command module imports this one, so it imports nothing heavy at the top: SQLAlchemy
# and the stores (~0.3 s), Alembic, chromadb (~0.7 s) and sentence-transformers (torch, ~5 s)
# load in the builders, on first use (bench/cli.py, tests/test_cli_startup.py).

_PACKAGED_ALIASES = {PACKAGED_MINILM, f"sentence-transformers/{PACKAGED_MINILM}"}


def load_settings() -> Settings:
    return Settings()


def open_engine(settings: Settings) -> Engine:
    """The relational database at this code's schema: migrated here when
    ``settings.migrate_on_start`` (the embedded SQLite default), otherwise checked, so a
    database that is behind stops the process with ``SchemaError`` naming the command."""
    from api import migrate
    from preference_store.database import make_engine

    engine = make_engine(settings.resolved_database_url)
    try:
        if settings.migrate_on_start:
            migrate.upgrade(engine)
        else:
            migrate.check(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def open_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    name = settings.embedding_model
    if name in _PACKAGED_ALIASES:
        return SentenceTransformerEmbedder(packaged_minilm_path(), name=PACKAGED_MINILM)
    return SentenceTransformerEmbedder(name)


def lazy_embedder(settings: Settings) -> LazyEmbedder:
    """The configured embedder, loaded on its first ``embed``; its dimension is read from the
    model folder's config where it declares one, so opening the store loads nothing."""
    name = settings.embedding_model
    packaged = name in _PACKAGED_ALIASES
    return LazyEmbedder(
        PACKAGED_MINILM if packaged else name,
        lambda: open_embedder(settings),
        dimension=declared_dimension(packaged_minilm_path() if packaged else name),
    )


def embedding_fingerprint(settings: Settings) -> str:
    """What the configured embedder's vectors depend on, read without loading it: its name, the
    files of a local model folder (path, size, modification time) and the library versions."""
    name = settings.embedding_model
    packaged = name in _PACKAGED_ALIASES
    parts = [PACKAGED_MINILM if packaged else name]
    folder = Path(packaged_minilm_path() if packaged else name)
    if folder.is_dir():
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = file.stat()
            parts.append(f"{file.relative_to(folder)} {stat.st_size} {stat.st_mtime_ns}")
    for package in ("sentence-transformers", "transformers", "torch"):
        try:
            parts.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{package} missing")
    return "\n".join(parts)


def vocabulary_cache(settings: Settings, embedder: TextEmbedder) -> VocabularyCache:
    """``embedder`` with the vocabularies it embeds at warm-up kept under the cache dir."""
    from preference_store.vector_cache import VocabularyCache

    return VocabularyCache(
        embedder, settings.resolved_cache_dir / "vectors", embedding_fingerprint(settings)
    )


def open_chroma(settings: Settings) -> ClientAPI:
    """Embedded chromadb under the data dir, or a Chroma server when a URL is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

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
    embedder: TextEmbedder | None = None,
) -> PreferenceStore:
    from preference_store.store import PreferenceStore

    return PreferenceStore(
        open_chroma(settings),
        embedder or open_embedder(settings),
        engine or open_engine(settings),
        quota=settings.quota,
    )


def open_blobs(settings: Settings, engine: Engine) -> BlobStore:
    """Files under the data dir when embedded; the shared database when ``database_url`` is
    set, so every API node serves images whichever worker made them."""
    from preference_store.blobs import FileBlobStore, SqlBlobStore

    if settings.database_url is None:
        return FileBlobStore(settings.data_dir)
    return SqlBlobStore(engine)


def open_accounts(settings: Settings, *, engine: Engine | None = None) -> Accounts:
    from preference_store.accounts import Accounts

    return Accounts(engine or open_engine(settings))


class Components:
    """Builds each component on first use and keeps it, so a command loads only what it needs."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self._engine: Engine | None = None
        self._embedder: LazyEmbedder | None = None
        self._store: PreferenceStore | None = None
        self._blobs: BlobStore | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_engine(self.settings)
        return self._engine

    @property
    def embedder(self) -> LazyEmbedder:
        """Loads the model on its first use, not here: opening the store needs only its size."""
        if self._embedder is None:
            self._embedder = lazy_embedder(self.settings)
        return self._embedder

    @property
    def store(self) -> PreferenceStore:
        if self._store is None:
            self._store = open_store(self.settings, engine=self.engine, embedder=self.embedder)
        return self._store

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            self._blobs = open_blobs(self.settings, self.engine)
        return self._blobs

    @property
    def accounts(self) -> Accounts:
        return open_accounts(self.settings, engine=self.engine)

    @property
    def history(self) -> VersionLog:
        """Profile versions straight from the relational database: reading a profile needs
        neither chromadb nor the embedding model."""
        from preference_store.versions import VersionLog

        return VersionLog(self.engine)

    @property
    def profiles(self) -> Profiles:
        """A person's named profiles (owner keys), from the relational database alone."""
        from preference_store.profiles import Profiles

        return Profiles(self.engine, self.settings.quota)

    @property
    def styles(self) -> StyleStore:
        from preference_store.styles import StyleStore

        return StyleStore(self.engine, self.settings.quota)
