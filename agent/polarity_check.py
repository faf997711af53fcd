"""A second opinion on an LLM feature's polarity: the offline extractor's verdict on the clause
the feature's evidence comes from.

Small models like features a person called "distracting", "too bright" or "not so much"; the
offline rules read exactly those constructions. One function (``ClausePolarity.verdict``) is the
whole interface, so it can move to the offline extractor's own polarity stage without touching
the LLM extractor.
"""

from __future__ import annotations

from agent.guard import content_stems, shared_stems
from agent.offline import OfflineExtractor
from preference_store.models import Polarity

MIN_OVERLAP = 0.5


class ClausePolarity:
    """Asks the offline extractor which way a clause leans on one feature."""

    def __init__(self, offline: OfflineExtractor) -> None:
        self._offline = offline

    def verdict(self, feature: str, clause: str) -> Polarity | None:
        """The clause's polarity for ``feature``; None when the clause says nothing readable
        about it (another language, no opinion, a feature the rules do not see)."""
        try:
            extraction = self._offline.extract(clause)
        except Exception:  # an unreadable clause gives no verdict, never a failure
            return None
        wanted = content_stems(feature)
        best: tuple[float, Polarity | None] = (0.0, None)
        for attribute in extraction.attributes:
            found = content_stems(attribute.text)
            if not wanted or not found:
                continue
            score = 2 * len(shared_stems(wanted, found)) / (len(wanted) + len(found))
            if score > best[0]:
                best = (score, attribute.polarity)
        return best[1] if best[0] >= MIN_OVERLAP else None
