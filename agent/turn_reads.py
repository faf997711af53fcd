"""The session's rows as one turn of the agent sees them: read once, not once per step.

A turn (a reply, a click, a resume) asks for the session, its messages and its corrections
many times while it decides what to say; each step reading the database anew made one chat turn
8–11 reads of the same rows. Inside ``turn()`` the reads are kept, and every write through this
object drops them, so a step always sees what an earlier step of the same turn wrote. Outside a
turn nothing is kept. The memo is per thread: one agent serves many sessions at once.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from agent.extraction import Extraction
from agent.sessions import (
    CorrectionDraft,
    SessionInfo,
    SessionRepository,
    StoredCorrection,
    StoredMessage,
)

T = TypeVar("T")
S = TypeVar("S", bound="HoldsTurnReads")
P = ParamSpec("P")
R = TypeVar("R")


class HoldsTurnReads(Protocol):
    _sessions: TurnReads


def one_turn(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Run a method of an object holding ``_sessions: TurnReads`` as one turn."""

    @functools.wraps(method)
    def wrapper(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._sessions.turn():
            return method(self, *args, **kwargs)

    return wrapper


class TurnReads:
    """``SessionRepository`` with reads kept for the length of a turn."""

    def __init__(self, repository: SessionRepository) -> None:
        self._repository = repository
        self._local = threading.local()

    @contextmanager
    def turn(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._local.memo = {}
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0:
                self._local.memo = {}

    def _kept(self, key: tuple[str, str], read: Callable[[], T]) -> T:
        memo: dict[tuple[str, str], Any] | None = getattr(self._local, "memo", None)
        if memo is None or not getattr(self._local, "depth", 0):
            return read()
        if key not in memo:
            memo[key] = read()
        found: T = memo[key]
        return found

    def _wrote(self, *keys: tuple[str, str]) -> None:
        """Drop what a write changed (everything when ``keys`` is empty)."""
        memo: dict[tuple[str, str], Any] | None = getattr(self._local, "memo", None)
        if not memo:
            return
        if not keys:
            memo.clear()
        for key in keys:
            memo.pop(key, None)

    def _amend(self, session_id: str, change: Callable[[list[StoredMessage]], None]) -> None:
        """Apply a write to the kept messages of ``session_id`` instead of reading them again."""
        memo: dict[tuple[str, str], Any] | None = getattr(self._local, "memo", None)
        kept = memo.get(("messages", session_id)) if memo else None
        if memo is not None and kept is not None:
            fresh = list(kept)
            change(fresh)
            memo[("messages", session_id)] = fresh

    # -- reads ----------------------------------------------------------------------------------

    def get(self, session_id: str) -> SessionInfo | None:
        return self._kept(("get", session_id), lambda: self._repository.get(session_id))

    def messages(self, session_id: str) -> list[StoredMessage]:
        return self._kept(("messages", session_id), lambda: self._repository.messages(session_id))

    def corrections(self, session_id: str) -> dict[int, list[StoredCorrection]]:
        return self._kept(
            ("corrections", session_id), lambda: self._repository.corrections(session_id)
        )

    def active_for(self, user_id: str) -> SessionInfo | None:
        return self._repository.active_for(user_id)

    # -- writes (each drops what the turn has read) ---------------------------------------------

    def create(self, user_id: str, gallery: str) -> SessionInfo:
        self._wrote()
        return self._repository.create(user_id, gallery)

    def append(
        self, session_id: str, role: str, kind: str, text: str, image_id: str | None
    ) -> StoredMessage:
        message = self._repository.append(session_id, role, kind, text, image_id)
        self._wrote(("get", session_id))
        self._amend(session_id, lambda messages: messages.append(message))
        return message

    def set_extraction(self, message: StoredMessage, extraction: Extraction) -> None:
        self._repository.set_extraction(message.id, extraction)

        def written(messages: list[StoredMessage]) -> None:
            for number, kept in enumerate(messages):
                if kept.id == message.id:
                    messages[number] = replace(kept, extraction=extraction, pending=False)

        self._amend(message.session_id, written)

    def add_corrections(
        self,
        session_id: str,
        message_id: int,
        changes: Sequence[CorrectionDraft],
        *,
        words: str | None,
        via: str,
        said_in: int | None,
        extractor: str,
    ) -> None:
        self._wrote(("corrections", session_id))
        self._repository.add_corrections(
            session_id,
            message_id,
            changes,
            words=words,
            via=via,
            said_in=said_in,
            extractor=extractor,
        )

    def move(self, session_id: str, image_id: str | None, *, awaiting_followup: bool) -> None:
        self._wrote(("get", session_id))
        self._repository.move(session_id, image_id, awaiting_followup=awaiting_followup)

    def claim_finish(self, session_id: str) -> bool:
        self._wrote()
        return self._repository.claim_finish(session_id)

    def release_finish(self, session_id: str) -> None:
        self._wrote()
        self._repository.release_finish(session_id)

    def finish(self, session_id: str, profile_version: int) -> None:
        self._wrote()
        self._repository.finish(session_id, profile_version)
