"""Stage 2: words → labelled tokens (opinion cues, curated visual terms, stopwords).

The lexicon (``agent.lexicon``) and the curated vocabulary (``agent.vocabulary``) are matched
longest first, so "not a fan of" beats "not" and "teal and gold" stays one colour term.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from agent import lexicon
from agent.vocabulary import NOUN_HEADS, vocabulary
from preference_store.models import Category

# Token kinds.
WORD, STOP, CUE_LIKE, CUE_DISLIKE, POS, NEG, NEUTRAL, WISH, HEDGE, INTENS, NEGATION, TOO, MORE = (
    "word", "stop", "like", "dislike", "pos", "neg", "neutral", "wish", "hedge", "intens",
    "negation", "too", "more",
)  # fmt: skip
SARCASM, OKAY = "sarcasm", "okay"
FORWARD = frozenset({CUE_LIKE, CUE_DISLIKE})
EVALUATIONS = frozenset({POS, NEG})

_CONTRACTIONS = (
    (re.compile(r"\bcan['’]t\b"), "can not"),
    (re.compile(r"\bwon['’]t\b"), "will not"),
    (re.compile(r"\bi['’]d\b"), "i'd"),
    (re.compile(r"n['’]t\b"), " not"),
    (re.compile(r"['’]re\b"), " are"),
    (re.compile(r"['’]m\b"), " am"),
    (re.compile(r"['’]ve\b"), " have"),
    (re.compile(r"['’]ll\b"), " will"),
    (re.compile(r"\b(it|that|there|what|here|he|she)['’]s\b"), r"\1 is"),
)
_WORD = re.compile(r"[a-z0-9]+(?:['’\-][a-z0-9]+)*|[,]")
_LIKE_AS_PREPOSITION = {"look", "looks", "looked", "feel", "feels", "felt", "seems", "seem",
                        "something", "sounds", "just", "more", "less"}  # fmt: skip


_ADVERB = re.compile(
    r"[a-z]{3,}(?:ally|ily|ntly|ously|fully|edly|ctly|ably|ibly)$|[a-z]{4,}ely$|[a-z]+-wise$"
)
_SUBJECTS_AND_AUXILIARIES = frozenset({"it", "i", "he", "she", "they", "we", "you", "which",
                                       "who", "will", "would", "can", "could",
                                       "should"})  # fmt: skip


def _adverb(word: str) -> bool:
    """ "clumsily", "genuinely", "properly": manner adverbs are never a feature's name; the few
    that carry a verdict ("awkwardly", "clumsily") are in the valence lexicon and stay words."""
    loaded = word in lexicon.NEGATIVE_VALENCE or word in lexicon.POSITIVE_VALENCE
    return bool(_ADVERB.match(word)) and not loaded


@dataclass
class Token:
    text: str
    kind: str
    category: Category | None = None  # for curated terms


_ELONGATED = re.compile(r"([a-z])\1{2,}")


def words_of(lowered: str) -> list[str]:
    """Lower-case words with contractions expanded ("isn't" → "is not") and elongations
    shortened ("sooo" → "so")."""
    lowered = _ELONGATED.sub(r"\1", lowered)
    for pattern, replacement in _CONTRACTIONS:
        lowered = pattern.sub(replacement, lowered)
    return [w.replace("’", "'") for w in _WORD.findall(lowered) if w != ","]


class Labeller:
    """Labels the words of a clause; built once per extractor (the tables are read-only)."""

    def __init__(self) -> None:
        self.vocab = vocabulary()
        self._terms_by_len: dict[int, dict[tuple[str, ...], Category]] = {}
        for term, category in self.vocab.items():
            key = tuple(term.split())
            self._terms_by_len.setdefault(len(key), {})[key] = category
        self._max_term = max(self._terms_by_len)
        self._cues = _cue_table()
        self._max_cue = max(len(c) for c, _ in self._cues)

    def label(self, lowered: str) -> list[Token]:
        words = words_of(lowered)
        tokens: list[Token] = []
        i = 0
        while i < len(words):
            term = self.match_term(words, i)
            cue = self.match_cue(words, i)
            if term is not None and (cue is None or len(term[0]) >= len(cue[0])):
                length, category = len(term[0]), term[1]
                # "cool" / "soft" etc. are cues only when they do not modify a visual noun.
                if cue is not None and len(term[0]) == len(cue[0]):
                    nxt = words[i + length] if i + length < len(words) else ""
                    nxt_category = self.vocab.get(nxt)
                    if nxt not in NOUN_HEADS and nxt_category in {None, Category.SUBJECT}:
                        tokens.append(Token(" ".join(words[i : i + length]), cue[1]))
                        i += length
                        continue
                tokens.append(Token(" ".join(words[i : i + length]), WORD, category))
                i += length
                continue
            if cue is not None:
                kind = cue[1]
                if kind == TOO and i + 1 == len(words):
                    kind = STOP  # "the light too": also, not excess
                if (
                    cue[0] == ("like",)
                    and tokens
                    and (
                        tokens[-1].text in _LIKE_AS_PREPOSITION
                        or tokens[-1].kind == WORD
                        or tokens[-1].text in lexicon.CONTRAST_WORDS
                    )
                ):
                    kind = STOP  # "looks like a dream", "beautiful though, like early morning"
                tokens.append(Token(" ".join(cue[0]), kind))
                i += len(cue[0])
                continue
            word = words[i]
            kind = STOP if word in lexicon.STOPWORDS or word.isdigit() or _adverb(word) else WORD
            if kind == WORD and tokens and tokens[-1].text in _SUBJECTS_AND_AUXILIARIES:
                kind = STOP  # "it fights the washes", "I'll admit": a verb, not a feature
            tokens.append(Token(word, kind, self.vocab.get(word)))
            i += 1
        return tokens

    def match_term(self, words: list[str], i: int) -> tuple[tuple[str, ...], Category] | None:
        for length in range(min(self._max_term, len(words) - i), 0, -1):
            key = tuple(words[i : i + length])
            category = self._terms_by_len.get(length, {}).get(key)
            if category is not None:
                return key, category
        return None

    def match_cue(self, words: list[str], i: int) -> tuple[tuple[str, ...], str] | None:
        window = tuple(words[i : i + self._max_cue])
        for cue, kind in self._cues:
            if window[: len(cue)] == cue:
                return cue, kind
        return None


@cache
def _cue_table() -> list[tuple[tuple[str, ...], str]]:
    table: list[tuple[tuple[str, ...], str]] = []
    for kind, words in (
        (STOP, lexicon.IDIOM_FILLERS),
        (SARCASM, lexicon.SARCASM_MARKERS),
        (CUE_LIKE, lexicon.LIKE_CUES),
        (CUE_DISLIKE, lexicon.DISLIKE_CUES),
        (POS, lexicon.POSITIVE_WORDS),
        (NEG, lexicon.NEGATIVE_WORDS),
        (NEUTRAL, lexicon.NEUTRAL_WORDS),
        (OKAY, lexicon.OKAY_WORDS),
        (WISH, lexicon.WISH_CUES),
        (HEDGE, lexicon.HEDGES),
        (INTENS, lexicon.INTENSIFIERS),
        (NEGATION, lexicon.NEGATIONS),
        (TOO, ("too",)),
        (MORE, ("more", "not enough", "could use more", "needs more")),
    ):
        table.extend((tuple(w.split()), kind) for w in words)
    # Longest cue first, so "not a fan of" beats "not"; a stable sort keeps the list order above.
    return sorted(table, key=lambda item: -len(item[0]))
