"""A second opinion on an LLM feature's polarity: the offline extractor's verdict on the clause
the feature's evidence comes from.

Small models like features a person called "distracting", "too bright" or "not so much"; the
offline rules read exactly those constructions. One function (``ClausePolarity.verdict``) is the
whole interface, so it can move to the offline extractor's own polarity stage without touching
the LLM extractor.
"""

from __future__ import annotations

from agent.offline import OfflineExtractor
from preference_store.models import Polarity


class ClausePolarity:
    """Asks the offline extractor's polarity stage which way a clause leans on one feature."""

    def __init__(self, offline: OfflineExtractor) -> None:
        self._offline = offline

    def verdict(self, feature: str, clause: str) -> Polarity | None:
        """The clause's polarity for ``feature``; None when the clause says nothing readable
        about it (another language, no opinion, a feature the rules do not see)."""
        try:
            return self._offline.clause_polarity(clause, feature)
        except Exception:  # an unreadable clause gives no verdict, never a failure
            return None
