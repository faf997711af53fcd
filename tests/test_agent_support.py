"""Shared builders for the onboarding tests: real SQLite, real chromadb, the real MiniLM.

Nothing here is a mock: an ``AgentWorld`` is the same set of objects the CLI composes, each in a
temporary folder, so "restart" means building a second world over the same files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

import agent  # noqa: F401  (registers the onboarding tables)
from agent.builtin_gallery import ensure_builtin_gallery
from agent.extraction import Extractor, ImageContext
from agent.fallback import FallbackExtractor
from agent.gallery import Gallery
from agent.llm_extractor import LLMExtractor
from agent.offline import OfflineExtractor
from agent.offline.doubt import Calibration
from agent.onboarding import OnboardingAgent
from agent.sessions import SessionRepository
from preference_store.database import create_schema, make_engine
from preference_store.embeddings import SentenceTransformerEmbedder
from preference_store.models import Polarity
from preference_store.store import PreferenceStore
from tests.doubles.llm_server import LoopbackLLMServer

# A whole onboarding's comments: none depends on which image the policy shows.
COMMENTS = [
    "I love the warm golden light but hate the cluttered composition",
    "not a fan of the grainy texture",
    "The soft watercolor washes are beautiful",
    "It's too dark and gloomy for me",
    "the minimalist style is lovely",
    "I adore the flowing lines and the dreamy mood",
    "no more neon please",
    "Great low angle, but the lens flare is distracting",
    "I really like the symmetry and the teal palette",
]


def attribute_pairs(
    extractor: Extractor, comment: str, image: ImageContext | None = None
) -> set[tuple[str, Polarity]]:
    """What a person would check in a result: each attribute's text and polarity."""
    return {(a.text, a.polarity) for a in extractor.extract(comment, image).attributes}


@pytest.fixture(scope="session")
def offline_extractor(embedder: SentenceTransformerEmbedder) -> OfflineExtractor:
    """One warmed-up offline extractor for the whole run (vocabulary embedded once)."""
    extractor = OfflineExtractor(embedder)
    extractor.warm_up()
    return extractor


@pytest.fixture(scope="session")
def trusting_extractor(embedder: SentenceTransformerEmbedder) -> OfflineExtractor:
    """The offline reader vouching for every reading, as it did before it could ask: what the
    tests of corrections use, so a misread is stored (and there is something to correct)."""
    extractor = OfflineExtractor(embedder, calibration=Calibration({}, default=1.0, threshold=0.0))
    extractor.warm_up()
    return extractor


@pytest.fixture(scope="session")
def builtin_gallery(tmp_path_factory: pytest.TempPathFactory) -> Gallery:
    return ensure_builtin_gallery(tmp_path_factory.mktemp("gallery"))


def chat_model(server: LoopbackLLMServer, *, retries: int = 2, timeout: float = 5.0) -> ChatOpenAI:
    """The real langchain client pointed at the loopback server."""
    return ChatOpenAI(
        model="loopback-model",
        base_url=server.base_url,
        api_key=SecretStr("test-key"),
        max_retries=retries,
        timeout=timeout,
        temperature=0,
        use_responses_api=False,
    )


def llm_extractor(
    server: LoopbackLLMServer,
    *,
    retries: int = 2,
    timeout: float = 5.0,
    vision: bool = False,
    method: Literal["json_schema", "function_calling"] = "json_schema",
) -> LLMExtractor:
    """The LLM extractor exactly as ``api`` builds it, over the loopback server."""
    model = chat_model(server, retries=retries, timeout=timeout)
    return LLMExtractor(model, vision=vision, method=method)


@dataclass
class AgentWorld:
    """The persistent parts (files) and one agent over them."""

    root: Path
    store: PreferenceStore
    sessions: SessionRepository
    agent: OnboardingAgent
    gallery: Gallery


WorldFactory = Callable[..., AgentWorld]


@pytest.fixture()
def make_world(
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
    offline_extractor: OfflineExtractor,
    builtin_gallery: Gallery,
) -> Iterator[WorldFactory]:
    """Build an agent over the files in ``tmp_path``; call again to "restart the process"."""
    clients: dict[Path, chromadb.ClientAPI] = {}

    def build(extractor: Extractor | None = None, **agent_kwargs: object) -> AgentWorld:
        engine = make_engine(f"sqlite:///{tmp_path / 'tastemaker.db'}")
        create_schema(engine)
        path = tmp_path / "chroma"
        # chromadb keeps one client per path per process; a new process would open a new one.
        client = clients.get(path) or chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
        )
        clients[path] = client
        store = PreferenceStore(client, embedder, engine)
        sessions = SessionRepository(engine)
        onboarding = OnboardingAgent(
            sessions=sessions,
            store=store,
            extractor=extractor or offline_extractor,
            gallery=builtin_gallery,
            **agent_kwargs,  # type: ignore[arg-type]
        )
        return AgentWorld(tmp_path, store, sessions, onboarding, builtin_gallery)

    yield build


def fallback_extractor(
    server: LoopbackLLMServer, offline: OfflineExtractor, *, retries: int = 2, timeout: float = 5.0
) -> FallbackExtractor:
    return FallbackExtractor(llm_extractor(server, retries=retries, timeout=timeout), offline)


__all__ = [
    "COMMENTS",
    "AgentWorld",
    "builtin_gallery",
    "chat_model",
    "fallback_extractor",
    "llm_extractor",
    "make_world",
    "offline_extractor",
]
