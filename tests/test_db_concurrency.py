"""The rules SQLite's one-writer lock used to hide, with real concurrent connections, on SQLite
and on PostgreSQL: each writer below is its own engine (as another API process would be), and
all of them start at once (a barrier).

- profile versions: concurrent writers to one profile lose nothing and never share a number;
- an onboarding is finished by exactly one writer;
- a queued job is claimed by exactly one worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from sqlalchemy import Engine, text

from agent.sessions import SessionRepository
from api import migrate
from api.onboarding import TurnLock
from api.wiring.jobs import job_kinds
from generation.request import GenerationRequest
from jobs.generation import GENERATION
from jobs.repository import JobRepository
from preference_store.database import make_engine
from preference_store.embeddings import SentenceTransformerEmbedder
from preference_store.models import AttributeDraft, Polarity
from preference_store.store import PreferenceStore

WRITERS = 12
T = TypeVar("T")


@pytest.fixture()
def engines(database_url: str) -> Iterator[list[Engine]]:
    """One migrated database, and one engine (its own connection pool) per writer."""
    first = make_engine(database_url)
    migrate.upgrade(first)
    others = [make_engine(database_url) for _ in range(WRITERS - 1)]
    yield [first, *others]
    for engine in (first, *others):
        engine.dispose()


def all_at_once(tasks: list[Callable[[], T]]) -> list[T]:
    """Run every task in its own thread, released together."""
    barrier = threading.Barrier(len(tasks))

    def run(task: Callable[[], T]) -> T:
        barrier.wait()
        return task()

    with ThreadPoolExecutor(len(tasks)) as pool:
        return list(pool.map(run, tasks))


def test_concurrent_profile_writers_lose_nothing_and_never_share_a_version(
    engines: list[Engine], tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    stores = [PreferenceStore(client, embedder, engine) for engine in engines]
    colours = [
        "teal",
        "amber",
        "violet",
        "crimson",
        "ochre",
        "cobalt",
        "olive",
        "navy",
        "coral",
        "mint",
        "rust",
        "plum",
    ]

    def writer(store: PreferenceStore, colour: str) -> Callable[[], None]:
        def add() -> None:
            store.add("ada", [AttributeDraft(text=f"{colour} palette", polarity=Polarity.LIKE)])

        return add

    all_at_once([writer(s, c) for s, c in zip(stores, colours, strict=True)])

    final = stores[0].profile("ada")
    assert sorted(a.text for a in final.attributes) == sorted(f"{c} palette" for c in colours)
    assert [v.version for v in stores[0].versions("ada")] == list(range(1, WRITERS + 1))


def test_an_onboarding_is_recorded_once_whoever_finishes_it(
    engines: list[Engine], embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    """Every process may try to finish (a claim left by a dead process never blocks); the
    store writes the onboarding's version once, keyed by the session as its origin."""
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    stores = [PreferenceStore(client, embedder, engine) for engine in engines]
    session = SessionRepository(engines[0]).create("ada", "builtin")
    drafts = [AttributeDraft(text="teal palette", polarity=Polarity.LIKE)]

    def finisher(store: PreferenceStore) -> Callable[[], int]:
        return lambda: store.record_onboarding("ada", drafts, [], [], origin=session.id).version

    versions = all_at_once([finisher(store) for store in stores])

    assert set(versions) == {1}, "every finisher gets the one version the onboarding made"
    assert [v.version for v in stores[0].versions("ada")] == [1]


def test_a_queued_job_is_claimed_by_exactly_one_worker(engines: list[Engine]) -> None:
    kinds = job_kinds()
    owner = JobRepository(engines[0], kinds)
    jobs = [
        owner.create(f"user{n}", GENERATION, GenerationRequest(prompt=f"p{n}")) for n in range(4)
    ]
    workers = [JobRepository(engine, kinds) for engine in engines]

    def claim_all(worker: JobRepository, name: str) -> list[str]:
        claimed: list[str] = []
        while taken := worker.claim(name, [GENERATION]):
            claimed += [job.id for job in taken]
        return claimed

    claimed = all_at_once(
        [lambda w=w, n=n: claim_all(w, f"worker{n}") for n, w in enumerate(workers)]
    )

    winners = [job_id for ids in claimed for job_id in ids]
    assert sorted(winners) == sorted(job.id for job in jobs)  # each once, none twice
    assert all(owner.get(job.id).status == "running" for job in jobs)  # type: ignore[union-attr]


def test_one_onboarding_turn_at_a_time_across_api_nodes(postgres_url: str) -> None:
    """Two API nodes (two engines) serving turns of one session: the second waits in
    PostgreSQL until the first turn ends; another session's turn does not wait."""
    first_node, second_node = make_engine(postgres_url), make_engine(postgres_url)
    watcher = make_engine(postgres_url)
    locks = [TurnLock(first_node), TurnLock(second_node)]
    entered = threading.Event()

    def waiting_turns() -> int:
        with watcher.connect() as connection:
            return int(
                connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    )
                )
                or 0
            )

    def second_turn() -> None:
        with locks[1]("session-1"):
            entered.set()

    try:
        with locks[0]("session-1"):
            other = threading.Thread(target=second_turn)
            other.start()
            while waiting_turns() == 0 and other.is_alive():
                time.sleep(0.02)
            assert not entered.is_set(), "the other node ran a turn while this one was running"
            with locks[1]("session-2"):
                pass  # another session: no wait
        other.join(timeout=30)
        assert entered.is_set(), "the waiting turn ran once the first ended"
    finally:
        for engine in (first_node, second_node, watcher):
            engine.dispose()
