"""What the onboarding agent refuses, each with a message that tells the person what to do
(``api.errors`` maps them to HTTP statuses)."""

from __future__ import annotations


class OnboardingError(ValueError):
    """A request the agent cannot serve; the message tells the person what to do."""


class UnknownSession(OnboardingError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"no onboarding session {session_id!r}; start one with 'onboard USER'")


class SessionFinished(OnboardingError):
    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"onboarding session {session_id!r} is already finished; start a new one to add more"
        )


class SessionFinishing(SessionFinished):
    def __init__(self, session_id: str) -> None:
        OnboardingError.__init__(
            self, f"onboarding session {session_id!r} is being finished right now; wait a moment"
        )


class UnknownMessage(OnboardingError):
    def __init__(self, session_id: str, message_id: int) -> None:
        super().__init__(f"onboarding session {session_id!r} has no comment {message_id}")


class InvalidCorrection(OnboardingError):
    """A correction that cannot apply (no such attribute, no text for an edit, bad text)."""
