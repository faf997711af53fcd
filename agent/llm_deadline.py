"""One deadline per message for everything the LLM does on it.

Without it a hung server costs timeout × retries for the extraction and then again for the
follow-up question (60–121 s were measured). The extractor opens a *turn* for the message; the
follow-up writer finds the same turn (same comment, same thread or task) and uses what is left,
or the template at once when the extraction already fell back.

The wait is enforced by running the call in a daemon thread and waiting at most the time left:
the openai client's own timeout and transport retries multiply, a thread join does not. The
abandoned call still ends by itself, because it is sent with the time left as its timeout.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(TimeoutError):
    """The message's LLM time is spent."""


@dataclass
class Turn:
    """The LLM time of one message."""

    comment: str
    expires_at: float
    fell_back: bool = False
    started_at: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        return max(0.0, self.expires_at - time.monotonic())


class MessageDeadline:
    """Hands out one ``Turn`` per message; shared by the extractor and the follow-up writer."""

    def __init__(self, seconds: float = 20.0) -> None:
        if seconds <= 0:
            raise ValueError("the LLM deadline must be positive")
        self.seconds = seconds
        self._turn: contextvars.ContextVar[Turn | None] = contextvars.ContextVar(
            "llm_turn", default=None
        )

    def begin(self, comment: str) -> Turn:
        """A fresh turn for a new message (the extraction is the first LLM call on it)."""
        turn = Turn(comment=comment, expires_at=time.monotonic() + self.seconds)
        self._turn.set(turn)
        return turn

    def current(self, comment: str) -> Turn:
        """The turn this message already has, or a fresh one (e.g. extraction was cached)."""
        turn = self._turn.get()
        if turn is not None and turn.comment == comment:
            return turn
        return self.begin(comment)

    @staticmethod
    def call(turn: Turn, fn: Callable[[float], T]) -> T:
        """``fn(seconds_left)`` finished within the turn's time, or ``DeadlineExceeded``."""
        left = turn.remaining()
        if left <= 0:
            raise DeadlineExceeded("no LLM time left for this message")
        return call_within(lambda: fn(left), left)


def call_within(fn: Callable[[], T], seconds: float) -> T:
    """Run ``fn`` and wait for it at most ``seconds`` (it keeps the caller's context)."""
    outcome: list[T] = []
    failure: list[BaseException] = []
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome.append(context.run(fn))
        except BaseException as error:  # handed to the caller below
            failure.append(error)

    worker = threading.Thread(target=target, name="llm-call", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise DeadlineExceeded(
            f"the language model did not answer within {seconds:.1f} s (a slow local model's "
            "first call also loads its weights: raise the LLM deadline setting)"
        )
    if failure:
        raise failure[0]
    return outcome[0]
