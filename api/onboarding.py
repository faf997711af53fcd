"""The onboarding agent as the API serves it: ownership checks and one lock per session."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

from agent.gallery import Gallery
from agent.onboarding import OnboardingAgent
from agent.sessions import SessionRepository
from api.errors import NotFound

LOCK_STRIPES = 256
ADVISORY_NAMESPACE = 7245191  # pg_advisory_xact_lock(namespace, session hash): onboarding turns


class TurnLock:
    """One turn at a time per onboarding session. In this process: a fixed set of striped locks,
    never pruned. On PostgreSQL also across API nodes: a transaction-scoped advisory lock, so two
    nodes never run turns of one session at once (both would read the same state and both
    advance it); a node that dies mid-turn drops its connection and with it the lock."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._stripes = [threading.Lock() for _ in range(LOCK_STRIPES)]
        shared = engine is not None and engine.dialect.name == "postgresql"
        self._engine = engine if shared else None

    @contextmanager
    def __call__(self, session_id: str) -> Iterator[None]:
        digest = zlib.crc32(session_id.encode())
        with self._stripes[digest % LOCK_STRIPES]:
            if self._engine is None:
                yield
                return
            with self._engine.begin() as connection:
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:namespace, :session)"),
                    {"namespace": ADVISORY_NAMESPACE, "session": digest - (1 << 31)},
                )
                yield


class Onboarding:
    """The agent plus what the API adds: ownership checks and one turn at a time per session."""

    def __init__(
        self,
        agent: OnboardingAgent,
        sessions: SessionRepository,
        gallery: Gallery,
        engine: Engine | None = None,
    ) -> None:
        self.agent = agent
        self.sessions = sessions
        self.gallery = gallery
        self.lock = TurnLock(engine)

    def require_own(self, user: str, session_id: str) -> None:
        info = self.sessions.get(session_id)
        if info is None or info.user_id != user:
            raise NotFound(f"no onboarding session {session_id!r}")
