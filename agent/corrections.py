"""Corrections to what the agent understood from a comment: read-back, parsing, applying.

The agent reads each comment's attributes back, numbered from 1 ("Noted: 1 + warm golden light,
2 − cluttered composition."). The person corrects that by a click (over HTTP), by a command in
the read-back's own numbering ("fix 2 like", "flip 1", "drop 1", "edit 1 soft fog"), or in
words ("no, I liked the fog", "not the grid, the colours"). Commands are plain rules; words go
through the same extractor that read the comment, and what they say is matched to the read-back
by the evaluation's phrase overlap. What cannot be pinned to one attribute gets one short
question back instead of a guess.

The features the extractor was unsure of (``Extraction.unsure``) are numbered after its
attributes; they are open until the person answers the agent's question about them (or clicks
Liked / Disliked / Neither): ``like`` and ``dislike`` set a polarity, ``drop`` is "neither". An
open one is never read back as noted and never stored.

Corrections never overwrite the extractor's output: ``apply`` folds them over it, in order, each
time the corrected attributes are needed (read-back, transcript, finish, export).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.evaluation import MATCH_THRESHOLD, overlap
from agent.extraction import Extraction, Extractor, ImageContext
from agent.sessions import CorrectionDraft, StoredCorrection, StoredMessage
from agent.vocabulary import vocabulary
from preference_store.models import AttributeDraft, Category, Polarity

FLIP, DROP, EDIT, LIKE, DISLIKE = "flip", "drop", "edit", "like", "dislike"
ACTIONS = (FLIP, DROP, EDIT, LIKE, DISLIKE)
CLICK, COMMAND, WORDS, ANSWER = "click", "command", "words", "answer"
CORRECTED_STRENGTH = 1.0  # the person said so themselves
SIGN = {Polarity.LIKE: "+", Polarity.DISLIKE: "−"}
HOW_TO = "say e.g. 'fix 1 like', 'drop 2' or 'edit 1 soft fog'"
HOW_TO_LONG = "To change one, " + HOW_TO + "."


Change = CorrectionDraft


@dataclass(frozen=True)
class Question:
    """The correction could not be pinned down: ask this instead of guessing."""

    text: str


Plan = list[Change] | Question


# -- applying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """A comment's attributes after the person's corrections and answers, position for
    position: the extractor's attributes, then its unsure items (the numbering a person sees).
    ``None`` where dropped; ``open`` are the unsure ones nobody has answered yet."""

    items: tuple[AttributeDraft | None, ...]
    open: frozenset[int]
    changed: bool  # the person corrected or answered something here

    def noted(self) -> list[AttributeDraft | None]:
        """What the agent may read back (and store): open items count as not noted."""
        return [None if i in self.open else a for i, a in enumerate(self.items)]

    def stored(self) -> list[AttributeDraft]:
        return kept(self.noted())

    def unsure(self) -> list[tuple[int, AttributeDraft]]:
        return [(i, a) for i, a in enumerate(self.items) if i in self.open and a is not None]


def apply(extraction: Extraction, corrections: Sequence[StoredCorrection], comment: str) -> Reading:
    """The comment's reading after ``corrections``, in order.

    A flipped or edited attribute carries the person's words as its evidence (the correction's
    words when they said it, else the comment itself) and full strength; an answered question
    keeps the reader's strength and adds the answer to the evidence. Where the person named the
    feature in their own words ("no, I liked the fog"), their words become its text."""
    current: list[AttributeDraft | None] = [
        *extraction.attributes,
        *(u.attribute for u in extraction.unsure),
    ]
    open_ = set(range(len(extraction.attributes), len(current)))
    for correction in corrections:
        index = correction.attribute_index
        attribute = current[index] if 0 <= index < len(current) else None
        if attribute is None:
            continue
        if correction.action == DROP:
            current[index] = None
            open_.discard(index)
            continue
        update: dict[str, object] = {
            "strength": CORRECTED_STRENGTH,
            "evidence": [correction.words or comment],
        }
        if correction.action == FLIP:
            update["polarity"] = attribute.polarity.opposite
        elif correction.action in (LIKE, DISLIKE):
            update["polarity"] = Polarity(correction.action)
            if index in open_:  # an answer to the question about it
                answer = correction.words or correction.action
                update["strength"] = attribute.strength
                update["evidence"] = [*attribute.evidence, f"asked; answered: {answer}"][-4:]
        if correction.text:
            update["text"] = correction.text
            if correction.category is not None:
                update["category"] = correction.category
        if correction.action != EDIT:
            open_.discard(index)
        current[index] = attribute.model_copy(update=update)
    return Reading(tuple(current), frozenset(open_), changed=bool(corrections))


def kept(attributes: Sequence[AttributeDraft | None]) -> list[AttributeDraft]:
    return [a for a in attributes if a is not None]


def readback(attributes: Sequence[AttributeDraft | None], *, prefix: str = "Noted") -> str:
    """'Noted: 1 + warm golden light, 2 − cluttered composition.' (dropped ones keep their
    number out, so the numbers a person already saw never shift)."""
    items = [
        f"{number} {SIGN[a.polarity]} {a.text}"
        for number, a in enumerate(attributes, start=1)
        if a is not None
    ]
    if not items:
        return "I couldn't pick out a specific visual feature there."
    return f"{prefix}: " + ", ".join(items) + "."


# -- parsing --------------------------------------------------------------------------------

_N = r"#?(\d{1,3})"
_POLARITY_WORDS = {
    "like": Polarity.LIKE,
    "liked": Polarity.LIKE,
    "likes": Polarity.LIKE,
    "+": Polarity.LIKE,
    "dislike": Polarity.DISLIKE,
    "disliked": Polarity.DISLIKE,
    "dislikes": Polarity.DISLIKE,
    "-": Polarity.DISLIKE,
    "−": Polarity.DISLIKE,
}
_FIX = re.compile(
    rf"^(?:fix|make|set|mark)\s+{_N}\s+(?:to\s+|as\s+)?(?:an?\s+)?(like[sd]?|dislike[sd]?|\+|-|−)$"
)
_FLIP = re.compile(rf"^(?:flip|swap|invert|reverse)\s+{_N}$")
_DROP = re.compile(rf"^(?:drop|remove|delete|forget)\s+{_N}$")
_EDIT = re.compile(rf"^(?:edit|rename|change)\s+{_N}\s+(?:to\s+|into\s+)?(.+)$")
# Only a clear "you got that wrong" opens a correction in words: "no more neon please" and
# "no complaints about the fog" are comments.
_MARKER = re.compile(
    r"^(?:no(?:pe)?\s*[,.!:;—–-]+|no\s+(?=i\b|it\b|that\b|i'?d\b)|nope\s+|wrong\s*[,.!:;—–-]+|"
    r"that'?s\s+(?:not\s+right|wrong)\s*[,.!:;—–-]*|correction\s*[:,-]|i\s+meant\s+)\s*",
    re.IGNORECASE,
)
_NOT_BUT = re.compile(
    r"^not\s+(?:the\s+)?(?P<old>[^,;.]+?)\s*[,;—–-]+\s*(?:but\s+|i\s+meant\s+|it'?s\s+|it\s+was\s+)?"
    r"(?:the\s+)?(?P<new>[^,;]+?)[.!]*$",
    re.IGNORECASE,
)
_DROP_WORDS = re.compile(
    r"^(?:please\s+)?(?:drop|remove|forget|delete|ignore)\s+(?:the\s+)?(?P<old>.+?)[.!]*$",
    re.IGNORECASE,
)


def parse_command(
    text: str, attributes: Sequence[AttributeDraft | None], open_: frozenset[int] = frozenset()
) -> Plan | None:
    """A command in the read-back's numbering, or ``None`` when ``text`` is not one (``open_``:
    unsure items, which 'fix N like' answers)."""
    said = " ".join(text.strip().lower().rstrip(".!").split())
    if match := _FIX.match(said):
        index = _index(match.group(1), attributes)
        if isinstance(index, Question):
            return index
        open_question = index in open_
        wanted = _POLARITY_WORDS[match.group(2)]
        attribute = attributes[index]
        assert attribute is not None
        if attribute.polarity is wanted and not open_question:
            return Question(f"{index + 1} is already a {wanted.value}: {attribute.text}.")
        return [Change(index, wanted.value)]
    for pattern, action in ((_FLIP, FLIP), (_DROP, DROP)):
        if match := pattern.match(said):
            index = _index(match.group(1), attributes)
            return index if isinstance(index, Question) else [Change(index, action)]
    if match := _EDIT.match(" ".join(text.strip().split())):
        index = _index(match.group(1), attributes)
        if isinstance(index, Question):
            return index
        return [Change(index, EDIT, text=match.group(2).strip(" .!\"'"))]
    return None


def parse_words(
    text: str, attributes: Sequence[AttributeDraft | None], extractor: Extractor
) -> Plan | None:
    """A correction in words, or ``None`` when ``text`` reads as an ordinary comment."""
    said = " ".join(text.strip().split())
    marker = _MARKER.match(said)
    body = said[marker.end() :] if marker else said
    if (match := _NOT_BUT.match(body)) and len(match.group("new").split()) <= 6:
        index = _find(match.group("old"), attributes)
        if isinstance(index, int):
            new = match.group("new").strip(" .!\"'")
            return [Change(index, EDIT, text=new, category=category_of(new, extractor))]
        if marker is None:  # "not a fan of the grain, love the colours" is just a comment
            return None
        return index or _which(attributes, f"I didn't note {match.group('old')!r} there.")
    if marker is None:
        return None
    if match := _DROP_WORDS.match(body):
        index = _find(match.group("old"), attributes)
        if isinstance(index, int):
            return [Change(index, DROP)]
        return index or _which(attributes, f"I didn't note {match.group('old')!r} there.")
    return _flips(body, attributes, extractor)


def _flips(body: str, attributes: Sequence[AttributeDraft | None], extractor: Extractor) -> Plan:
    """'I liked the fog': what the extractor reads, set against the read-back."""
    said = extractor.extract(body).attributes if body else []
    if not said:
        return _which(attributes, "Which one did I get wrong?")
    changes: list[Change] = []
    unchanged: list[str] = []
    for statement in said:
        index = _find(statement.text, attributes)
        if not isinstance(index, int):
            return index or _which(attributes, f"I didn't note {statement.text!r} there.")
        attribute = attributes[index]
        assert attribute is not None
        if attribute.polarity is statement.polarity:
            unchanged.append(f"{index + 1} {SIGN[attribute.polarity]} {attribute.text}")
        elif all(c.attribute_index != index for c in changes):
            # "the fog is dull" → "no, I liked the fog": what is liked is the fog, not "dull fog"
            own = statement.text if statement.text.casefold() != attribute.text.casefold() else None
            changes.append(Change(index, statement.polarity.value, text=own))
    if changes:
        return changes
    return Question("That is what I noted: " + ", ".join(unchanged) + f". If not, {HOW_TO}.")


def _index(number: str, attributes: Sequence[AttributeDraft | None]) -> int | Question:
    index = int(number) - 1
    if 0 <= index < len(attributes) and attributes[index] is not None:
        return index
    return _which(attributes, f"There is no {number} in my last read-back.")


def _find(phrase: str, attributes: Sequence[AttributeDraft | None]) -> int | Question | None:
    """The one attribute ``phrase`` names; a question when two fit equally, ``None`` for none."""
    scored = sorted(
        ((overlap(phrase, a.text), i) for i, a in enumerate(attributes) if a is not None),
        reverse=True,
    )
    best = [i for value, i in scored if value >= MATCH_THRESHOLD and value == scored[0][0]]
    if len(best) == 1:
        return best[0]
    if len(best) > 1:
        options = " or ".join(f"{i + 1} {attributes[i].text}" for i in best)  # type: ignore[union-attr]
        return Question(f"Which one do you mean: {options}? {HOW_TO[0].upper()}{HOW_TO[1:]}.")
    return None


def _which(attributes: Sequence[AttributeDraft | None], lead: str) -> Question:
    listed = readback(attributes, prefix="I noted")
    if not any(a is not None for a in attributes):
        return Question(f"{lead} I noted nothing specific from your last comment.")
    return Question(f"{lead} {listed} To change one, {HOW_TO}.")


def category_of(text: str, extractor: Extractor) -> Category | None:
    """The category of an edited phrase, read by the same extractor ('warm light' → lighting).

    The person named the phrase themselves, so a bare category word the extractor would call
    vague ('the colours') is still theirs: its category comes from the curated vocabulary."""
    found = extractor.extract(f"I like the {text}").attributes
    if found:
        return found[0].category
    terms = vocabulary()
    for word in reversed(re.findall(r"[a-z]+", text.lower())):
        if word in terms:
            return terms[word]
    return None


# -- the correction log ---------------------------------------------------------------------


def labelled_case(
    message: StoredMessage, stored: Sequence[StoredCorrection], image: ImageContext | None
) -> dict[str, object]:
    """One corrected comment as a labelled case in the format of
    ``tests/data/extraction_eval.jsonl`` (``agent.evaluation.load_labelled`` reads it): the
    corrected attributes are the labels, the extractor's own answer rides along. No user or
    session id; the case id is a hash of the comment and the image, so re-exports dedupe."""
    assert message.extraction is not None
    original = message.extraction.attributes
    corrected = apply(message.extraction, stored, message.text).stored()
    image_json = (
        {"description": image.description, "tags": [t.model_dump(mode="json") for t in image.tags]}
        if image is not None
        else None
    )
    digest = hashlib.sha256(f"{message.image_id}\n{message.text}".encode()).hexdigest()[:12]
    return {
        "id": f"correction-{digest}",
        "kind": "correction",
        "comment": message.text,
        "liked": [a.text for a in corrected if a.polarity is Polarity.LIKE],
        "disliked": [a.text for a in corrected if a.polarity is Polarity.DISLIKE],
        "image": image_json,
        "extractor": message.extraction.extractor,
        "extracted": {
            "liked": [a.text for a in original if a.polarity is Polarity.LIKE],
            "disliked": [a.text for a in original if a.polarity is Polarity.DISLIKE],
            "unsure": [u.attribute.text for u in message.extraction.unsure],
        },
        "corrections": [c.action for c in stored],
    }
