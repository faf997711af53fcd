"""Stage 5b: how sure the reading of each phrase is, so the agent asks instead of guessing.

Every phrase with a polarity gets its *readings*: the rule that gave its polarity
(``Run.source``, e.g. ``source:3`` for a cue before it, ``source:fallback`` for a verdict
borrowed from the clause before) and the hard constructions around it (``flag:sarcasm``,
``flag:double_negation``, ...; docs/design.md, "Asking when unsure"). Each reading has a
confidence: its accuracy on the tuning sets, smoothed towards a prior (``calibration.json``,
written by ``bench/calibrate_asking.py``; the held-out sets are never read). The hard
constructions carry a strong prior at chance, because the rules fail on them on unseen text
however well they score on the text they were written from. A phrase is as sure as its least
reliable reading; below the calibrated threshold it is *unsure*.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from agent.offline.marks import CHECK_DISLIKE, CHECK_LIKE
from agent.offline.pairing import Run
from agent.offline.segment import Clause
from agent.offline.tokens import (
    CUE_DISLIKE,
    CUE_LIKE,
    EVALUATIONS,
    FORWARD,
    HEDGE,
    NEG,
    NEGATION,
    POS,
    SARCASM,
    WISH,
    Token,
)
from agent.offline.valence import ValenceReader
from agent.offline.verdict import DISLIKE, LIKE, negated
from preference_store.models import Polarity

CALIBRATION = Path(__file__).with_name("calibration.json")

# Why a flag makes a reading unsure, in the words the agent may show.
REASONS = {
    "sarcasm": "it may be sarcasm",
    "double_negation": "a double negative",
    "not_enough": "a wish for more of something",
    "wish": "a wish or a condition",
    "comparison": "a comparison with something not in this image",
    "emoji": "an emoji verdict",
    "mismatch": "praise and criticism words pull both ways",
    "hedge": "a hedged verdict",
    "hyperbole": "an exaggeration that may be affection",
    "simile": "'like' may be a comparison, not a verdict",
    "flaw": "praise for what is usually a flaw",
    "similar": "a describing word read by its likeness to others",
    "degree": "'pretty' may mean 'rather', not praise",
}
# Sarcasm no marker word gives away: praise too pointed to be meant.
_SARCASM_HINTS = re.compile(
    r"\b(?:very|so|real(?:ly)?|how) (?:restrained|understated|classy|tasteful|subtle|original|"
    r"fresh|bold|brave)\b|\b(?:bold|brave|interesting) choice\b|\bwhat a choice\b|"
    r"\bgot(?:ta| to) love\b|\bwho doesn'?t love\b|\bnothing says\b|\blove that for\b|"
    r"\bthanks,? i hate it\b|\byeah,? no\b|\bas one does\b|\bbecause nothing\b|"
    r"\bexactly what\b|\bapparently\b|\bof course\b",
    re.IGNORECASE,
)
# A comparison whose other side is not in this image.
_ELSEWHERE = re.compile(
    r"\b(?:last one|previous|earlier one|the other one|the first one|usually|normally|"
    r"before this|the one before|other images?|the rest|than (?:i|i'?m|usual|before|expected|"
    r"the (?:last|other|first|previous|earlier))|than (?:it|this) (?:should|could|needs))\b",
    re.IGNORECASE,
)
_DOUBLE_NEGATION = re.compile(
    r"\b(?:not that i (?:do not|don'?t|dislike|hate)|can(?:no|'?)t say i(?: a|'?)m not|"
    r"can(?:no|'?)t say i (?:do not|don'?t|dislike|hate)|would(?: not|n'?t) say i "
    r"(?:dislike|hate|mind)|not un[a-z]+|not without|never not|hardly un[a-z]+|"
    r"not (?:exactly )?(?:bad|terrible|awful|ugly|unpleasant)|"
    r"(?:hard|impossible|difficult|tough) not to)\b|"
    r"(?:\bnot|n['’]?t|\bnever) mind\b",  # "wouldn't mind more X": a litotes
    re.IGNORECASE,
)
# Negation words as people type them, apostrophe or not ("dont", "nowhere").
_NEGATION_WORDS = re.compile(
    r"\b(?:not|no|never|nothing|nowhere|nobody|none|neither|nor|without|hardly|barely|"
    r"[a-z]+n['’]t|dont|doesnt|didnt|isnt|arent|wasnt|werent|cant|wont|wouldnt|couldnt|"
    r"shouldnt|aint)\b",
    re.IGNORECASE,
)
_WISH = re.compile(
    r"\b(?:if only|if (?:it|the|they|this)|would (?:be|look|have been)|could (?:be|use|have)|"
    r"should (?:be|have)|wish|i'?d (?:love|like|prefer|want) (?:it )?(?:if|more|less))\b|"
    # any modal before the verb it qualifies ("could perhaps be a little brighter")
    r"\b(?:could|would|should|might|may|i'?d)(?: \w+){0,2} (?:be|have|look|use|do|get|feel|"
    r"work|read|pop|help)\b",
    re.IGNORECASE,
)
# Exaggeration that often carries affection for a flaw ("so bleak it hurts, and I'm into it",
# "ugly in the best possible way", "an absolute mess and I can't stop looking at it").
_HYPERBOLE = re.compile(
    r"\bso \w+(?: and \w+)? (?:that )?(?:it|it'?s|its|i|i'?m|you|they)\b|\bit hurts\b|"
    r"\bas a compliment\b|\bin the (?:best|good|right|nicest)(?: possible)? (?:way|sense)\b|"
    r"\b(?:weirdly|strangely|oddly|perversely|unreasonably|disgustingly|stupidly) \w+|"
    r"\bguilty pleasure\b|\bcan(?:no|'?)t stop (?:looking|staring)\b|\bobsessed\b",
    re.IGNORECASE,
)
_MIXED_FEELINGS = re.compile(
    r"\b(?:in a good way|in the best way|ugly[- ]pretty|pretty[- ]ugly|good[- ]ugly|"
    r"so bad it'?s good|beautifully (?:ugly|messy|broken)|gloriously|delightfully|"
    r"perfectly imperfect)\b",
    re.IGNORECASE,
)
# What is usually a defect of a picture: praise for it is often sarcasm.
_FLAW_NOUNS = frozenset({"watermark", "watermarks", "artifact", "artifacts", "artefact",
                         "artefacts", "noise", "banding", "compression", "jpeg", "pixelation",
                         "halo", "halos", "haloes", "filter", "aberration", "clipping",
                         "posterization", "posterisation", "smudge", "smudges", "glitch",
                         "glitches", "seam", "seams", "distortion", "blur", "blurriness", "hdr",
                         "cliche", "cliché"})  # fmt: skip
# Cue words that are also prepositions or verbs of things ("it reads like a filter", "the
# yellows disappear into the paper"): a verdict only with the person on the left.
_AMBIGUOUS_CUES = frozenset({"like", "likes", "into the", "dig", "drawn to", "keep the"})
_PERSON_SIDE = frozenset({"i", "we", "you", "really", "also", "do", "does", "did", "would",
                          "i'd", "and", "just", "genuinely", "actually", "truly", "totally",
                          "kinda", "still", "both", "all", "definitely", "personally", "always",
                          "not", "honestly", "quite", "kind of", "sort of", "much", "more",
                          "less", "particularly", "especially", "i am", "am", "so", "very",
                          "somehow", "even", "never"})  # fmt: skip
_CHECKMARKS = CHECK_LIKE | CHECK_DISLIKE
# Readings from the phrase's own clause words ("love the X", "the X is gorgeous"): an emoji
# beside them adds nothing to doubt.
_OWN_WORDS = frozenset({"1", "2", "3", "5", "6", "7"})
# Readings where the person said it outright ("I love the grainy texture", "the washed out blues
# are gorgeous", "X over Y"): a flaw word in the name is then part of what they love.
_EXPLICIT = frozenset({"1", "3", "5", "7"})


@dataclass(frozen=True)
class Calibration:
    """Smoothed accuracy per reading and the threshold below which a phrase is unsure."""

    accuracy: dict[str, float]
    default: float
    threshold: float

    def confidence(self, readings: Iterable[str]) -> float:
        return min((self.accuracy.get(r, self.default) for r in readings), default=self.default)


@cache
def calibration() -> Calibration:
    data = json.loads(CALIBRATION.read_text(encoding="utf-8"))
    return Calibration(
        accuracy={k: float(v) for k, v in data["accuracy"].items()},
        default=float(data["default"]),
        threshold=float(data["threshold"]),
    )


def readings(clauses: Sequence[Clause]) -> dict[int, list[str]]:
    """By ``id(run)``: how each phrase with a polarity was read, and the hard constructions
    around it (the keys of the calibration table)."""
    by_sentence: dict[int, list[Clause]] = {}
    for clause in clauses:
        by_sentence.setdefault(clause.sentence, []).append(clause)
    out: dict[int, list[str]] = {}
    for clause in clauses:
        sentence = by_sentence[clause.sentence]
        neighbours = [c for c in clauses if abs(c.sentence - clause.sentence) == 1]
        for run in clause.runs:
            if run.polarity is None:
                continue
            found = [f"source:{run.source or 'none'}"]
            found += [f"flag:{f}" for f in flags(clause, sentence, neighbours, run)]
            out[id(run)] = found
    return out


def flags(
    clause: Clause, sentence: Sequence[Clause], neighbours: Sequence[Clause], run: Run
) -> list[str]:
    """The hard constructions that bear on ``run``'s reading (see ``REASONS``)."""
    text = clause.text
    whole = " ".join(c.text for c in sentence)
    found: list[str] = []
    tokens = clause.tokens
    if _sarcastic(clause, sentence, neighbours, run):
        found.append("sarcasm")
    negations = sum(1 for t in tokens if t.kind == NEGATION)
    if (
        _DOUBLE_NEGATION.search(text)
        or max(negations, len(_NEGATION_WORDS.findall(text))) >= 2
        or (negations and any(t.kind == CUE_DISLIKE for t in tokens))
        or _negated_flaw(tokens, run)
    ):
        found.append("double_negation")
    if any(t.text == "enough" for t in tokens) or run.source == "want":
        found.append("not_enough")
    if (
        run.source in {"4", "conditional"}
        or any(t.kind == WISH for t in tokens)
        or _WISH.search(text)
    ):
        found.append("wish")
    if _ELSEWHERE.search(text):
        found.append("comparison")
    if run.source == "emoji" or (_has_emoji(whole) and run.source not in _OWN_WORDS | {"mark"}):
        found.append("emoji")
    if (
        _MIXED_FEELINGS.search(whole)
        or (run.source not in _EXPLICIT and _mismatched(run))
        or (run.source != "1" and _both_ways(clause, sentence, run))
    ):
        found.append("mismatch")
    if any(t.kind == HEDGE for t in tokens):
        found.append("hedge")
    if run.polarity is Polarity.LIKE and _degree(tokens):
        found.append("degree")
    if _HYPERBOLE.search(whole):
        found.append("hyperbole")
    if run.source in {"3", "clause"} and _prepositional_cue(tokens):
        found.append("simile")
    if run.polarity is Polarity.LIKE and {t.text for t in run.words} & _FLAW_NOUNS:
        found.append("flaw")
    if _by_similarity(run):
        found.append("similar")
    return found


def _sarcastic(
    clause: Clause, sentence: Sequence[Clause], neighbours: Sequence[Clause], run: Run
) -> bool:
    """Sarcasm no marker word in the sentence gives away: a pointed phrase nearby, praise on its
    own after a description ("..., brilliant."), or a marked sarcastic sentence next to praise."""
    if any(t.kind == SARCASM for c in sentence for t in c.tokens):
        return False  # read as sarcasm already (``polarity``)
    around = " ".join(c.text for c in [*sentence, *neighbours])
    if _SARCASM_HINTS.search(around) or any(_bare_praise(c) for c in neighbours):
        return True
    praised = run.polarity is Polarity.LIKE
    others = [c for c in sentence if c is not clause]
    return praised and (
        any(_bare_praise(c) for c in others)
        or any(t.kind == SARCASM for c in neighbours for t in c.tokens)
    )


def _both_ways(clause: Clause, sentence: Sequence[Clause], run: Run) -> bool:
    """ "the lighting is so harsh and ugly i love it", "garish ..., i'm obsessed": praise and
    criticism about the same phrase, with no contrast word to split them. A verdict read from
    the phrase's own predicate ("are so cheap-looking") is one of them."""
    signs = {_sign(tokens, i) for tokens, i in _zone(clause, sentence, run)}
    if run.source == "6":
        signs.add(run.polarity)
    return {LIKE, DISLIKE} <= signs


def _zone(clause: Clause, sentence: Sequence[Clause], run: Run) -> list[tuple[list[Token], int]]:
    """The verdict words that bear on ``run``: a cue before it and an evaluation after it, up to
    the phrases on either side (an evaluation before it belongs to the phrase before, a cue after
    it to the phrase after, unless it points back: "I love it"), and every verdict word of the
    clauses of its sentence that hold no phrase and no contrast word separates."""
    tokens, runs = clause.tokens, clause.runs
    position = runs.index(run)
    before = runs[position - 1] if position else None
    after = runs[position + 1] if position + 1 < len(runs) else None
    zone: list[tuple[list[Token], int]] = []
    for i in range(before.end if before else 0, run.start):
        if before is None or tokens[i].kind in FORWARD:
            zone.append((tokens, i))
    for i in range(run.end, after.start if after else len(tokens)):
        backwards = i + 1 < len(tokens) and tokens[i + 1].text in _BACK_REFERENCES
        if tokens[i].kind not in FORWARD or after is None or backwards:
            zone.append((tokens, i))
    number = sentence.index(clause)
    for step in (-1, 1):
        k = number + step
        while 0 <= k < len(sentence):
            boundary = sentence[k] if step > 0 else sentence[k + 1]
            if boundary.after_contrast or boundary.exception or sentence[k].runs:
                break
            zone += [(sentence[k].tokens, i) for i in range(len(sentence[k].tokens))]
            k += step
    return zone


_BACK_REFERENCES = frozenset({"it", "them", "that", "this", "everything", "all"})


def _sign(tokens: Sequence[Token], index: int) -> Polarity | None:
    kind = tokens[index].kind
    if kind not in FORWARD | EVALUATIONS:
        return None
    polarity = LIKE if kind in {CUE_LIKE, POS} else DISLIKE
    return polarity.opposite if negated(tokens, index) else polarity


def _negated_flaw(tokens: Sequence[Token], run: Run) -> bool:
    """ "wouldn't call the brushwork unappealing", "the fog isn't bad": a negation, then a flaw
    word that is not part of the phrase's own name (a litotes)."""
    first = next((i for i, t in enumerate(tokens) if t.kind == NEGATION), None)
    return first is not None and any(
        t.kind == NEG and not run.start <= i < run.end for i, t in enumerate(tokens) if i > first
    )


def _degree(tokens: Sequence[Token]) -> bool:
    """ "pretty obviously tiled", "pretty washed out": "pretty" as a degree word ("rather")
    before another describing word, not praise."""
    return any(
        t.text == "pretty"
        and i + 1 < len(tokens)
        and (
            tokens[i + 1].kind == NEG
            or tokens[i + 1].text.endswith("ly")
            or tokens[i + 1].text in _FLAW_WORDS
        )
        for i, t in enumerate(tokens)
    )


def _prepositional_cue(tokens: Sequence[Token]) -> bool:
    """A like-cue with a thing, not the person, on its left ("it reads like a filter")."""
    return any(
        index
        and token.kind == CUE_LIKE
        and token.text in _AMBIGUOUS_CUES
        and tokens[index - 1].text not in _PERSON_SIDE
        for index, token in enumerate(tokens)
    )


def _by_similarity(run: Run) -> bool:
    """A verdict read from describing words outside the lexicon, by MiniLM's likeness to
    examples ("the lighting feels right"): less sure than a word the lexicon knows."""
    if run.source == "6" and run.predicate:
        return ValenceReader.lexical([t.text for t in run.predicate]) is None
    return run.source == "8" and ValenceReader.lexical([t.text for t in run.words]) is None


# Words for what is usually a flaw in a picture, beyond the valence lexicon's.
_FLAW_WORDS = frozenset({"crunchy", "overcooked", "over-sharpened", "oversharpened", "blown",
                         "blown-out", "washed", "ugly", "grimy", "janky", "glitchy", "wonky",
                         "crooked", "smudgy", "tacky", "gaudy", "kitschy", "distorted",
                         "lo-fi", "trashy", "sloppy", "crude"})  # fmt: skip


def _mismatched(run: Run) -> bool:
    """ "the washed out blues are gorgeous": the name's own valence word says the opposite of
    the verdict (a flaw word about what is loved, or praise about a flaw)."""
    names = [t.text for t in run.words[:-1]]
    words = names + [n.replace(" ", "-") for n in names if " " in n]
    own = ValenceReader.lexical(words)
    if own is None and {w for n in words for w in n.split()} & _FLAW_WORDS:
        own = Polarity.DISLIKE
    return own is not None and run.polarity is not None and own is not run.polarity


def _bare_praise(clause: Clause) -> bool:
    """A sentence that is only praise ("Very restrained.", "Subtle.", "So original."): after a
    description it is often sarcasm, which no word marks."""
    words = [t for t in clause.tokens if t.text not in {"very", "so", "real", "really", "how"}]
    return (
        0 < len(words) <= 2
        and not clause.runs
        and any(t.kind == POS for t in words)
        and all(t.kind in {POS, NEG} or t.text in {"just", "truly"} for t in words)
        and not any(t.kind == NEG for t in words)
    )


def _has_emoji(text: str) -> bool:
    return any(
        ch in _CHECKMARKS or (unicodedata.category(ch) == "So" and ord(ch) > 0x2000) for ch in text
    )


_SOURCE_REASONS = {"sarcasm": "sarcasm", "want": "not_enough", "4": "wish", "conditional": "wish"}


def reason(found: Sequence[str], table: Calibration) -> str:
    """The least reliable reading, in words (why the agent asks); a construction before a
    rule's name when they are equally unsure."""

    def weakness(reading: str) -> tuple[float, bool]:
        return (table.accuracy.get(reading, table.default), not reading.startswith("flag:"))

    kind, _, name = min(found, key=weakness).partition(":")
    if kind == "source":
        name = _SOURCE_REASONS.get(name, "")
    return REASONS.get(name, "the verdict was read from another part of the comment")


__all__ = ["REASONS", "Calibration", "calibration", "flags", "readings", "reason"]
