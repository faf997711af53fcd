"""The onboarding agent as the API serves it: ownership checks and one lock per session."""

from __future__ import annotations

import threading
import zlib

from agent.gallery import Gallery
from agent.onboarding import OnboardingAgent
from agent.sessions import SessionRepository
from api.errors import NotFound

LOCK_STRIPES = 256


class Onboarding:
    """The agent plus what the API adds: ownership checks and one lock per session."""

    def __init__(
        self, agent: OnboardingAgent, sessions: SessionRepository, gallery: Gallery
    ) -> None:
        self.agent = agent
        self.sessions = sessions
        self.gallery = gallery
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]

    def lock(self, session_id: str) -> threading.Lock:
        """One turn at a time per session: a fixed set of striped locks, never pruned."""
        return self._locks[zlib.crc32(session_id.encode()) % LOCK_STRIPES]

    def require_own(self, user: str, session_id: str) -> None:
        info = self.sessions.get(session_id)
        if info is None or info.user_id != user:
            raise NotFound(f"no onboarding session {session_id!r}")
