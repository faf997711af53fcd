"""What a clause's own words say: its verdict, negations, local markers and strength.

Shared by the polarity stage (``polarity``), the readings across clauses (``across``) and the
builder. Strength follows the words: "okay" (0.4) < "like" (0.7) < "really like" (0.8) <
"love"/"gorgeous" (0.9); a hedged verdict is weak (at most 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from agent import lexicon
from agent.offline.pairing import COPULAS
from agent.offline.tokens import (
    CUE_DISLIKE,
    CUE_LIKE,
    EVALUATIONS,
    FORWARD,
    HEDGE,
    INTENS,
    MORE,
    NEG,
    NEGATION,
    OKAY,
    POS,
    SARCASM,
    STOP,
    TOO,
    Token,
)
from preference_store.models import Polarity

LIKE, DISLIKE = Polarity.LIKE, Polarity.DISLIKE
WEAK, MEDIUM, FIRM, STRONG = 0.4, 0.7, 0.8, 0.9
_EXPECTATION = frozenset({"think", "thought", "expect", "expected", "expecting", "imagine",
                          "imagined"})  # fmt: skip
_SKIPPABLE = frozenset({"so", "very", "really", "way", "a", "bit", "much", "the", "far", "all",
                        "that", "little", "tad"})  # fmt: skip


def clause_verdict(tokens: Sequence[Token]) -> Polarity | None:
    """The clause's own verdict from its cues (not from loaded adjectives)."""
    verdict: Polarity | None = None
    for index, token in enumerate(tokens):
        if token.kind in FORWARD or token.kind in EVALUATIONS:
            polarity = LIKE if token.kind in {CUE_LIKE, POS} else DISLIKE
            verdict = polarity.opposite if negated(tokens, index) else polarity
            break
        if token.kind == TOO:
            verdict = DISLIKE
            break
    if verdict is LIKE and any(t.kind == SARCASM for t in tokens):
        return DISLIKE
    return verdict


def negated(tokens: Sequence[Token], index: int, window: int = 3) -> bool:
    """A negation just before ``index``, or a clause opened by "nothing about/in ...".

    "I wasn't expecting to like X", "I didn't think I'd like X": the negation is of the
    expectation, not of the liking."""
    before = tokens[max(0, index - window) : index]
    if any(t.kind == NEGATION for t in before):
        expected = (
            index < len(tokens)
            and tokens[index].kind in FORWARD
            and any(t.text in _EXPECTATION for t in before)
            and any(t.text in {"did", "was", "were", "never"} for t in tokens[:index])
        )  # "I didn't think I'd like X" (past: surprise), not "I don't think I like X"
        return not expected
    if any(
        a.kind == NEGATION and b.text in {"think", "believe"} for a, b in pairwise(tokens[:index])
    ):
        return True  # "I don't think the grain works": the verdict under it is negated
    texts = [t.text for t in tokens[: min(index, 3)]]
    return any(a == "nothing" and b in {"about", "in", "of"} for a, b in pairwise(texts))


def local_marker(tokens: Sequence[Token], start: int) -> Polarity | None:
    index = start - 1
    while index >= 0 and tokens[index].kind in {INTENS, STOP} and tokens[index].text in _SKIPPABLE:
        index -= 1
    if index < 0:
        return None
    token = tokens[index]
    if token.kind == TOO or token.text in {"too much", "too many"}:
        return LIKE if negated(tokens, index, 2) else DISLIKE
    if token.text in {"no more", "less", "fewer"}:
        return DISLIKE
    if token.kind == MORE:
        return DISLIKE if negated(tokens, index, 2) else LIKE
    if token.kind == NEGATION and token.text in {"without", "no", "zero"}:
        return DISLIKE
    if token.text == "just" and index > 0 and tokens[index - 1].text in COPULAS:
        return DISLIKE  # "the rest is just murk", "it's just a flat gradient": dismissive
    return None


def elliptical_negation(tokens: Sequence[Token]) -> bool:
    texts = [t.text for t in tokens[-2:]]
    return len(texts) == 2 and texts[1] == "not" and texts[0] in _AUXILIARIES


_AUXILIARIES = frozenset({"do", "does", "did", "is", "are", "was", "were", "can", "could"})


def clause_strength(tokens: Sequence[Token]) -> float:
    texts = {t.text for t in tokens}
    kinds = {t.kind for t in tokens}
    litotes = any(
        t.kind in {NEG, CUE_DISLIKE} and negated(tokens, i, 2) for i, t in enumerate(tokens)
    ) or any(t.text.startswith("no complaints") for t in tokens)
    negated_strong = any(
        t.text in lexicon.STRONG_WORDS and negated(tokens, i) for i, t in enumerate(tokens)
    )
    excess = any(
        a.text in {"way", "far", "much"} and (b.kind == TOO or b.text in {"too much", "too many"})
        for a, b in pairwise(tokens)
    )
    if litotes or "do not mind" in texts:
        strength = WEAK  # "isn't bad", "I don't hate", "I don't mind": a lukewarm yes
    elif negated_strong:
        strength = MEDIUM  # "I can't say I love it": a plain no, not a strong one
    elif texts & lexicon.STRONG_WORDS or excess:
        strength = STRONG  # "gorgeous", "way too much"
    elif OKAY in kinds and not kinds & (FORWARD | EVALUATIONS):
        strength = WEAK
    elif INTENS in kinds:
        strength = FIRM
    else:
        strength = MEDIUM
    if any(a.kind == POS and b.text == "enough" for a, b in pairwise(tokens)):
        strength = WEAK  # "pleasant enough": lukewarm
    if HEDGE in kinds:
        # "kinda love", "maybe the nicest": a hedged verdict is a weak one, however strong
        strength = hedged(strength)
    return strength


_HEDGED = 0.5


def hedged(strength: float) -> float:
    """ "kinda love", "maybe the nicest": a hedged verdict is a weak one, however strong."""
    return max(0.3, min(round(strength - 0.3, 2), _HEDGED))
