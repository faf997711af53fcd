"""Asking instead of guessing: which question is open, and what a reply to it says.

After a comment whose reader was unsure of a feature (``Extraction.unsure``), the agent asks one
short question about the one that matters most (``policy.question_for``) and stays on the image.
The question is an agent message of kind ``ask`` whose text is the item's question, so the open
question is read from the transcript (no extra state): the last agent message is an ``ask``, and
the comment before it still has an open item with that question. A reply is read as an answer
when it is one ("like", "no", "ha, no, hated it", "not sure"); anything else is an ordinary
comment or correction, and the question lapses (the item is never stored unanswered).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.corrections import Reading
from agent.evaluation import MATCH_THRESHOLD, overlap
from agent.extraction import Extractor, InvalidComment, question_about
from agent.policy import ASK
from agent.sessions import AGENT, USER, StoredMessage
from preference_store.models import AttributeDraft, Polarity

ANSWER = "answer"  # the person's reply to it
LIKE, DISLIKE, NEITHER = "like", "dislike", "neither"
ANSWER_HINT = "(like / dislike / neither)"

_YES = frozenset({"like", "liked", "yes", "y", "yep", "yeah", "yup", "sure", "definitely",
                  "loved", "love", "+", "👍", "❤️", "😍", "i did", "i liked it", "did"})  # fmt: skip
_NO = frozenset({"dislike", "disliked", "no", "n", "nope", "nah", "hated", "hate", "-", "−",
                 "👎", "i didn't", "i did not", "didn't"})  # fmt: skip
_NEITHER = frozenset({"neither", "not sure", "unsure", "don't know", "dont know", "no idea",
                      "no opinion", "meh", "0", "n/a", "idk", "neutral", "either",
                      "don't care", "dont care", "not really either", "both"})  # fmt: skip
_EDGES = " .!?,;:'\"()…"


@dataclass(frozen=True)
class OpenQuestion:
    """The question waiting for an answer: about item ``index`` of comment ``target``."""

    target: StoredMessage
    index: int
    question: str


def open_question(
    messages: Sequence[StoredMessage], reading: Callable[[StoredMessage], Reading]
) -> OpenQuestion | None:
    """The question the last agent message asked, if it is still open (``reading``: a comment's
    attributes after its corrections and answers)."""
    last_agent = next((m for m in reversed(messages) if m.role == AGENT), None)
    if last_agent is None or last_agent.kind != ASK:
        return None
    before = messages[: messages.index(last_agent)]
    target = next(
        (m for m in reversed(before) if m.role == USER and m.extraction is not None), None
    )
    if target is None or target.extraction is None:
        return None
    for index, item in reading(target).unsure():
        if question_about(item.text) == last_agent.text:
            return OpenQuestion(target, index, last_agent.text)
    return None


def read_answer(text: str, item: AttributeDraft, extractor: Extractor) -> str | None:
    """``like``, ``dislike`` or ``neither`` when ``text`` answers "did you like {item}?";
    None when it is not an answer (a new comment, a correction, something else)."""
    said = " ".join(text.lower().strip(_EDGES).split())
    for words, answer in ((_YES, LIKE), (_NO, DISLIKE), (_NEITHER, NEITHER)):
        if said in words:
            return answer
    try:
        read = extractor.extract(text)
    except InvalidComment:
        return None
    for attribute in read.attributes:
        if overlap(attribute.text, item.text) >= MATCH_THRESHOLD:
            return attribute.polarity.value
    if read.attributes:
        return None  # it talks about other features: a comment, not an answer
    if read.overall is not None:
        return read.overall.value  # "ha, no, hated it"
    tokens = set(re.findall(r"[a-z']+|[+\-−]|\S", said))
    yes, no = bool(tokens & _YES), bool(tokens & _NO)
    if yes != no:
        return LIKE if yes else DISLIKE
    if any(phrase in said for phrase in _NEITHER if " " in phrase):
        return NEITHER
    return None


def acknowledge(answer: str, item: AttributeDraft) -> str:
    if answer == NEITHER:
        return f"Okay, I'll leave {item.text} out."
    sign = "+" if answer == Polarity.LIKE.value else "−"
    return f"Got it: {sign} {item.text}."
