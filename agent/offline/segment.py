"""Stage 1: a comment → sentences → clauses, the scopes polarity is decided in.

Sentences come from pySBD (rule-based sentence boundary detection, the "Golden Rules" set), so
"e.g." or "3.5" do not end a sentence; semicolons, colons, dashes and line breaks also close a
scope. Inside a sentence, clauses end at contrast words ("but", "though") and at commas that do
not join two modifiers of one noun ("soft, hazy light" stays one phrase). A verdict never
crosses a sentence boundary (see ``polarity``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise

import pysbd

from agent import lexicon
from agent.guard import is_instruction
from agent.offline import marks
from agent.offline.tokens import CUE_DISLIKE, CUE_LIKE, SARCASM, STOP, Labeller, Token
from agent.vocabulary import CATEGORY_HEADS, NOUN_HEADS
from preference_store.models import Polarity

_EXCEPTIONS = frozenset({"apart from", "aside from", "other than", "except for"})
_SCOPE_BREAK = re.compile(r"[;:\n]+|\s+[-–—]\s+|…|\.\.+")
_CONTRAST = re.compile(
    r"\b(?:" + "|".join([*_EXCEPTIONS, *lexicon.CONTRAST_WORDS]) + r")\b|,", re.IGNORECASE
)
_FOREIGN_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


@dataclass
class Clause:
    """One scope: the words between two clause boundaries of one sentence."""

    text: str
    tokens: list[Token]
    sentence: int = 0
    after_contrast: bool = False  # opened by "but", "though", ...
    exception: bool = False  # "Apart from the harsh shadows, it's lovely": the opposite
    simile: bool = False  # ", like blue plastic": compares what the clause before says
    mark: tuple[Polarity, str] | None = None  # a ✔️/❌ or emoji verdict in it (``marks``)
    runs: list = field(default_factory=list)  # list[pairing.Run], filled by the pairing stage


def looks_foreign(lowered: str) -> bool:
    """Mostly function words of another language: the offline rules cannot read it."""
    words = _FOREIGN_WORD.findall(lowered)
    foreign = sum(1 for w in words if w in lexicon.FOREIGN_MARKERS)
    english = sum(1 for w in words if w in lexicon.STOPWORDS)
    return foreign >= 2 and foreign > english


def sentences(text: str) -> list[str]:
    """Sentence-sized scopes, in order (pySBD, then the harder breaks inside each)."""
    segmenter = pysbd.Segmenter(language="en", clean=False)  # not thread-safe: one per call
    pieces: list[str] = []
    for sentence in segmenter.segment(marks.labels_as_marks(text)):
        for scope in _SCOPE_BREAK.split(sentence):
            pieces.extend(p.strip() for p in marks.split_marked(scope) if p.strip(" .!?"))
    return pieces


def clauses(text: str, labeller: Labeller) -> tuple[list[Clause], list[str]]:
    """The comment's clauses, and the sentences left out as instructions to the system."""
    found: list[Clause] = []
    ignored: list[str] = []
    for number, sentence in enumerate(sentences(text)):
        if is_instruction(sentence):
            ignored.append(sentence)
            continue
        position = 0
        after_contrast = exception = False
        for match in _CONTRAST.finditer(sentence):
            piece = sentence[position : match.start()]
            rest = sentence[match.end() :]
            if _adverbial(match.group(0), sentence[: match.start()], rest):
                continue  # "the boats though, they look stiff": no contrast opens here
            if match.group(0) == "," and _coordinated(piece, rest, labeller):
                continue  # "calmer, emptier layouts": one phrase, not two clauses
            if match.group(0) != "," and _modifier_contrast(piece, rest):
                # "Simple but effective composition": two modifiers of one noun
                sentence = sentence[: match.start()] + sentence[match.end() :]
                break
            if piece.strip(" .!?"):
                found.append(_clause(piece, labeller, number, after_contrast))
                found[-1].exception, exception = exception, False
                after_contrast = match.group(0) != ","
            elif match.group(0) != ",":
                after_contrast = True
                exception = match.group(0).lower() in _EXCEPTIONS
            position = match.end()
        piece = sentence[position:]
        if piece.strip(" .!?"):
            found.append(_clause(piece, labeller, number, after_contrast))
    for before, clause in pairwise(found):
        if before.sentence == clause.sentence and _simile(before.tokens, clause.tokens):
            clause.tokens[0] = Token(clause.tokens[0].text, STOP)
            clause.simile = True
    return found, ignored


_FINITE = frozenset({"is", "are", "was", "were", "been", "got", "had", "has", "did", "does",
                     "do", "went", "came", "ran"})  # fmt: skip


def _simile(before: list[Token], tokens: list[Token]) -> bool:
    """A clause opened by "like" that compares rather than likes: with a verb of its own ("the
    tiles look wonky, like the perspective got away from the artist"), or after a statement
    ("the loch looks almost solid, like blue plastic"); after a liking ("love the palette, like
    the grain too") it likes."""
    if len(tokens) < 2 or tokens[0].text != "like":
        return False
    if any(t.text in _FINITE or t.text.endswith("ed") for t in tokens[2:]):
        return True
    statement = any(t.text in _STATEMENT_VERBS for t in before)
    liking = any(t.kind in {CUE_LIKE, CUE_DISLIKE} for t in before)
    return statement and not liking and tokens[-1].text not in {"too", "also", "as well"}


_STATEMENT_VERBS = frozenset({"is", "are", "was", "were", "looks", "look", "looked", "feels",
                              "feel", "felt", "seems", "seem", "seemed"})  # fmt: skip


def _clause(text: str, labeller: Labeller, sentence: int, after_contrast: bool) -> Clause:
    tokens = labeller.label(text.lower())
    if any(sign in text for sign in lexicon.SARCASM_SIGNS):
        tokens.append(Token("🙄", SARCASM))
    return Clause(
        text=text.strip(" ,"),
        tokens=tokens,
        sentence=sentence,
        after_contrast=after_contrast,
        mark=marks.mark_of(text),
    )


_COPULA_AFTER = re.compile(r"\s*(?:,|$|(?:is|are|was|were|looks?|feels?|seems?)\b)")


def _adverbial(word: str, before: str, after: str) -> bool:
    """ "though" after a word, before a comma, a verb or the end, is an adverb ("however"):
    "The fisheye warp though is distracting", "I'm less sure about the boats though, ..."."""
    return (
        word.lower() == "though"
        and bool(re.search(r"[a-z]\s*$", before.lower()))
        and bool(_COPULA_AFTER.match(after.lower()))
    )


def _modifier_contrast(before: str, after: str) -> bool:
    left = re.findall(r"[a-z'-]+", before.lower())
    right = re.findall(r"[a-z'-]+", after.lower())
    return (
        len(left) == 1
        and left[0] not in lexicon.STOPWORDS
        and left[0] not in NOUN_HEADS
        and 1 < len(right) <= 3
        and not any(w in lexicon.STOPWORDS for w in right)
    )


def _coordinated(before: str, after: str, labeller: Labeller) -> bool:
    """A comma between two modifiers of one noun ("soft, hazy light")."""
    left = re.findall(r"[a-z'-]+", before.lower())
    right = re.findall(r"[a-z'-]+", after.lower())
    if not left or not right:
        return False
    last, first = left[-1], right[0]

    def modifier(word: str) -> bool:
        plain = word not in lexicon.STOPWORDS and word not in NOUN_HEADS
        return plain and word not in CATEGORY_HEADS and labeller.match_cue([word], 0) is None

    return modifier(last) and modifier(first) and len(right) > 1
