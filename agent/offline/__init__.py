"""The offline extractor, split along its stages (see ``extractor`` for the reading order).

``clause_polarity(comment, feature)`` is the polarity stage on its own: what the comment's own
words say about one feature. The LLM path checks an LLM's polarity against the evidence clause
with the extractor's method of that name (``agent/polarity_check.py``).
"""

from __future__ import annotations

from functools import cache

from agent.offline.extractor import OfflineExtractor
from preference_store.models import Polarity


@cache
def _rules_only() -> OfflineExtractor:
    """Word rules without a model (cheap to build; read-only after construction)."""
    return OfflineExtractor(None)


def clause_polarity(
    comment: str, feature: str, extractor: OfflineExtractor | None = None
) -> Polarity | None:
    """LIKE or DISLIKE as the comment's clause about ``feature`` says it, None when it does not.

    Pass the process's ``OfflineExtractor`` to also read predicates outside the lexicon with
    MiniLM ("the shadows seem sumptuous"); without one, the word rules alone answer.
    """
    return (extractor or _rules_only()).clause_polarity(comment, feature)


__all__ = ["OfflineExtractor", "clause_polarity"]
