""" "What made you pick that one?" after a surprising choice (design.md, "Asking why a pick").

A pick is surprising when the taste model gave the other image more than ``surprise`` of the
chance; the question follows such a pick at most once per ``every`` answered choices
(``WhyRule``), so a person is not questioned at every turn. Whether it was asked is read again
from the history of choices (no stored flag): the same history always gives the same answer.
The answer is a comment about the chosen image and goes through the same reader as comments,
with that image as its context; only what the reader is sure of is kept (an unsure item is
never stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.extraction import Extractor, clean_comment
from agent.gallery import Gallery
from preference_store.models import AttributeDraft

if TYPE_CHECKING:  # the settings read this module's knobs; choices pull in numpy
    from preference_store.choices import Choice

WHY_QUESTION = "What made you pick that one?"


@dataclass(frozen=True)
class WhyRule:
    """When to ask: after a pick of the image the model gave less than ``1 − surprise`` of
    the chance, at most once per ``every`` answered choices (the settings
    ``TASTEMAKER_WHY_SURPRISE`` and ``TASTEMAKER_WHY_EVERY`` declare the defaults)."""

    surprise: float
    every: int


def surprising(choice: Choice, surprise: float) -> bool:
    """The person picked the image the model thought they would not."""
    if choice.predicted is None:
        return False
    if choice.answer == "left":
        return 1.0 - choice.predicted > surprise
    if choice.answer == "right":
        return choice.predicted > surprise
    return False


def asked_why(history: Sequence[Choice], rule: WhyRule) -> set[str]:
    """The ids of the pairs the question followed: each surprising pick ``rule.every`` or
    more answered choices after the last one asked (the first surprising pick is asked)."""
    asked: set[str] = set()
    since = rule.every
    for choice in history:
        if choice.right is None or choice.answer not in ("left", "right", "neither"):
            continue  # a reaction to a generated image, a skip or a pair still waiting
        since += 1
        if since >= rule.every and surprising(choice, rule.surprise):
            asked.add(choice.id)
            since = 0
    return asked


def picked_image(choice: Choice) -> str:
    """The id of the image the person picked in ``choice`` (a left or right answer)."""
    if choice.answer == "left":
        return choice.left
    if choice.answer == "right" and choice.right is not None:
        return choice.right
    raise ValueError("only a left or right answer picks an image")


def why_source(pair_id: str) -> str:
    """What the attributes an answer gave are marked with (one answer per pair)."""
    return f"pick:{pair_id}"


def read_why(
    extractor: Extractor, gallery: Gallery, choice: Choice, text: str
) -> list[AttributeDraft]:
    """What the answer says, read as a comment on the picked image (InvalidComment for an
    empty or oversized answer; ExtractionError when an LLM reader gave up)."""
    comment = clean_comment(text)
    extraction = extractor.extract(comment, gallery.context(picked_image(choice)))
    source = why_source(choice.id)
    return [a.model_copy(update={"source": source}) for a in extraction.attributes]
