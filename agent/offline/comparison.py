"""Comparisons: where a clause that states a preference splits, and which side is liked.

"I'd take X over Y", "prefer X to Y", "X works better than Y", "X would suit it far more than
Y" like X and dislike Y; "X is worse than Y", "swap X for Y" dislike X.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.offline.tokens import FORWARD, POS, STOP, WORD, Token
from agent.offline.verdict import DISLIKE, LIKE
from preference_store.models import Polarity

_PREFERENCE = frozenset({"take", "rather", "prefer", "prefers", "preferred", "beat", "beats",
                         "better", "over", "give me"})  # fmt: skip
_BETTER = frozenset({"better", "stronger", "nicer", "prettier", "lovelier", "more interesting",
                     "more striking", "more appealing", "preferable", "superior"})  # fmt: skip
_CHOOSING = frozenset({"take", "prefer", "give me", "me", "pick", "choose", "go for"})
_THAN = frozenset({"than", "than that"})
_RATHER = _PREFERENCE | {"i'd rather", "would rather", "rather"}
_WORSE = frozenset({"worse", "weaker", "uglier", "duller", "blander", "messier", "muddier",
                    "inferior"})  # fmt: skip
_SWAPPING = frozenset({"swap", "trade", "replace", "exchange", "switch"})


def preference_split(tokens: Sequence[Token]) -> tuple[int, Polarity] | None:
    """Where a clause that states a preference splits, and the side before it: "I'd take X over
    Y", "prefer X to Y", "X works better than Y" (X liked), "X is worse than Y" (X disliked)."""
    texts = [t.text for t in tokens]
    for index, text in enumerate(texts):
        if index == 0:
            continue
        before = set(texts[:index])
        if text in _THAN and texts[index - 1] in _WORSE:
            return index, DISLIKE
        if text in _THAN and texts[index - 1] == "more" and _judging(tokens[:index]):
            return index, LIKE  # "oil paint would suit this far more than the airbrush finish"
        if text in {"for", "with"} and before & _SWAPPING:
            return index, DISLIKE  # "I'd swap the sepia tone for plain black ink"
        if text in _THAN and (texts[index - 1] in _BETTER or before & _RATHER):
            return index, LIKE
        if text in {"over", "beat", "beats"} and before & _CHOOSING:
            return index, LIKE
        if text in {"beat", "beats", "trumps", "outshines"} and any(
            t.kind == WORD for t in tokens[:index]
        ):
            return index, LIKE
        if (
            text == "to"
            and before & {"prefer", "preferred", "prefers"}
            and _between_sides(tokens, index)
        ):
            return index, LIKE
    return None


def _judging(tokens: Sequence[Token]) -> bool:
    """Whether the words before "more than" judge ("love X more than", "X would suit it more")."""
    return any(t.kind in FORWARD or t.kind == POS or t.text in {"suit", "suits"} for t in tokens)


def _between_sides(tokens: Sequence[Token], index: int) -> bool:
    """ "prefer X to Y": a phrase on both sides of "to" (not "prefer to see")."""
    return (
        any(t.kind == WORD for t in tokens[:index])
        and any(t.kind == WORD for t in tokens[index + 1 : index + 4])
        and tokens[index + 1].kind == STOP
        if index + 1 < len(tokens)
        else False
    )
