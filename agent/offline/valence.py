"""Is a describing word praise or criticism? ("rich", "gentle" vs "stiff", "muddy").

Used only where a word stands in the place of a verdict: a predicate ("the shadows seem rich")
or a verbless fragment ("Calm, cool, quiet."). A word in the lexicon's loaded-adjective lists
answers directly; any other word is compared by MiniLM with a few labelled examples of each
side (nearest-neighbour vote), so "sumptuous" or "stiff" need no new list entry. Without an
embedder only the lexicon answers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.lexicon import NEGATIVE_VALENCE, POSITIVE_VALENCE
from preference_store.embeddings import TextEmbedder
from preference_store.models import Polarity

# Labelled examples for the similarity vote: describing words a person uses as a verdict.
# fmt: off
POSITIVE_EXAMPLES = (
    "rich", "gentle", "calm", "warm and inviting", "soothing", "elegant", "striking", "lush",
    "delicate", "graceful", "natural", "sophisticated", "relaxing", "peaceful", "vivid",
    "glowing", "clean", "fresh", "precise", "effective", "atmospheric", "hypnotic", "smooth",
    "cozy", "sumptuous", "dreamy", "nostalgic", "balanced", "inviting", "soft",
    "solid", "tidy", "convincing", "consistent", "sharp", "crisp", "well judged", "confident",
    "carefully observed", "assured", "lively", "expressive", "harmonious", "polished",
    "beautifully done", "subtle", "tasteful", "refined", "luminous", "charming", "strong",
    "interesting", "bold", "dynamic",
    # praise through a noun ("the rim light is a masterstroke")
    "masterstroke", "stroke of genius", "pure poetry", "a gift", "a revelation", "a marvel",
    "genius", "a joy to look at",
    # what a feature is compared to ("looks like a dream")
    "a dream", "a fairy tale", "magic",
)
NEGATIVE_EXAMPLES = (
    "stiff", "muddy", "cheap", "harsh", "aggressive", "lost", "awkward", "fake", "plastic",
    "flashy", "cold", "stark", "empty", "lifeless", "cluttered", "messy", "garish", "dull",
    "bland", "overpowering", "washed out", "banded", "faint", "generic", "heavy-handed",
    "loud", "unreadable", "exhausting", "tacky", "sloppy",
    "clumsy", "wobbly", "inconsistent", "cramped", "blotchy", "unfinished", "crude",
    "off", "wrong", "out of place", "distorted", "warped", "smudged", "sickly", "murky",
    "overworked", "stilted", "amateur", "uneven", "jarring", "bleak",
    "a mess", "an eyesore", "a cliche", "a distraction", "a letdown", "a gimmick",
    "an afterthought", "a mistake",
    "clip art", "a stock photo", "a screensaver", "a cheap advert", "a catalogue", "wax",
    "a sticker", "a filter", "ai generated", "a mobile game",
)
# fmt: on
_NEIGHBOURS = 3
_MARGIN = 0.06
_FLOOR = 0.40  # below it, no example is close enough to read the word by


class ValenceReader:
    """Lexicon first, then a MiniLM nearest-neighbour vote against labelled examples."""

    def __init__(self, embedder: TextEmbedder | None) -> None:
        self._embedder = embedder
        self._examples: np.ndarray | None = None
        self._cache: dict[str, Polarity | None] = {}

    def asked(self, words: Sequence[str], questions: list[str] | None) -> Polarity | None:
        """Like ``of_words``, but a phrase not yet voted on is noted in ``questions`` (to be
        embedded in one batch) and answered None for now; without a list it is voted on now."""
        if questions is None:
            return self.of_words(words)
        lexical = self.lexical(words)
        if lexical is not None or self._embedder is None or not words:
            return lexical
        phrase = " ".join(words)
        if phrase not in self._cache:
            questions.append(phrase)
            return None
        return self._cache[phrase]

    def warm_up(self) -> None:
        if self._embedder is None or self._examples is not None:
            return
        vectors = self._embedder.embed(list(POSITIVE_EXAMPLES + NEGATIVE_EXAMPLES))
        self._examples = np.asarray(vectors, dtype=np.float32)

    def of_words(self, words: Sequence[str]) -> Polarity | None:
        """The verdict of describing words ("rich", "gentle and warm"), if they carry one."""
        lexical = self.lexical(words)
        if lexical is not None:
            return lexical
        if self._embedder is None or not words:
            return None
        phrase = " ".join(words)
        if phrase not in self._cache:
            self._remember(phrase, self._vote(phrase))
        return self._cache[phrase]

    def answer(self, phrases: Sequence[str], vectors: dict[str, np.ndarray]) -> None:
        """Vote on ``phrases`` with their precomputed vectors (one batch per comment)."""
        if self._embedder is None or not phrases:
            return
        self.warm_up()
        assert self._examples is not None
        for phrase in phrases:
            self._remember(phrase, self._side(self._examples @ vectors[phrase]))

    def _remember(self, phrase: str, polarity: Polarity | None) -> None:
        self._cache[phrase] = polarity
        if len(self._cache) > 4_096:  # bounded: one entry per distinct phrase
            self._cache.pop(next(iter(self._cache)), None)

    @staticmethod
    def lexical(words: Sequence[str]) -> Polarity | None:
        split = {w for word in words for w in word.split()}
        if split & NEGATIVE_VALENCE:
            return Polarity.DISLIKE
        if split & POSITIVE_VALENCE:
            return Polarity.LIKE
        return None

    def _vote(self, phrase: str) -> Polarity | None:
        self.warm_up()
        assert self._examples is not None and self._embedder is not None
        vector = np.asarray(self._embedder.embed([phrase]), dtype=np.float32)[0]
        return self._side(self._examples @ vector)

    @staticmethod
    def _side(similarity: np.ndarray) -> Polarity | None:
        positive = np.sort(similarity[: len(POSITIVE_EXAMPLES)])[-_NEIGHBOURS:].mean()
        negative = np.sort(similarity[len(POSITIVE_EXAMPLES) :])[-_NEIGHBOURS:].mean()
        if max(positive, negative) < _FLOOR or abs(positive - negative) < _MARGIN:
            return None  # not a describing word we can read, or no clear side
        return Polarity.LIKE if positive > negative else Polarity.DISLIKE
