"""The onboarding policy, as plain rules a reader can check.

* Ask about an unsure feature (docs/design.md, "Asking when unsure") before anything else: at
  most one question a turn, about the one that matters most (strongest, most visual), and at
  most ``QUESTIONS_PER_COMMENT`` questions a comment over the session; an unanswered one is
  never stored. After an answer, the next unsure feature of the same comment is asked while the
  session's budget allows, up to ``MAX_QUESTIONS_ABOUT_ONE_COMMENT``.
* Ask one follow-up when a comment is vague or carries no opinion (never twice for one image).
* Next image: the unseen one whose tags cover the most categories nobody has commented on yet;
  ties go to gallery order, so the order adapts to the person instead of being fixed.
* Offer to finish after at least 8 commented images covering at least 4 categories, with at
  least one like and one dislike (ViPer: fewer than 8 comments gives poor profiles).
* ``done`` before that finishes anyway, with a warning that says what is missing.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from agent.extraction import Extraction, UnsureItem
from agent.gallery import Gallery, GalleryImage
from agent.sessions import AGENT, USER, StoredMessage
from preference_store.models import Category, Polarity

MIN_IMAGES = 8
MIN_CATEGORIES = 4
# Categories that say something about taste (subject matter and "other" do not count).
TASTE_CATEGORIES = frozenset(Category) - {Category.SUBJECT, Category.OTHER}
QUESTIONS_PER_COMMENT = 0.5
MAX_QUESTIONS_ABOUT_ONE_COMMENT = 2  # then the next image, whatever budget is left
ASK = "ask"  # the kind of the agent's message that asks about an unsure feature
COMMENT_KINDS = frozenset({"comment", "followup"})  # a person's messages that are read
# How much a wrong polarity in a category moves generation: palette, light and style first.
_CATEGORY_WEIGHT = {
    Category.COLOR: 1.0,
    Category.LIGHTING: 1.0,
    Category.STYLE: 1.0,
    Category.MEDIUM: 0.9,
    Category.TEXTURE: 0.9,
    Category.MOOD: 0.8,
    Category.COMPOSITION: 0.8,
    Category.PERSPECTIVE: 0.7,
    Category.DETAIL: 0.6,
}


@dataclass
class Progress:
    """What the conversation has learned so far."""

    commented_images: set[str] = field(default_factory=set)
    seen_images: set[str] = field(default_factory=set)
    categories: set[Category] = field(default_factory=set)
    likes: int = 0
    dislikes: int = 0

    def add(self, image_id: str | None, extraction: Extraction) -> None:
        if image_id is not None and (extraction.attributes or extraction.overall is not None):
            self.commented_images.add(image_id)
        self.categories |= extraction.categories() & TASTE_CATEGORIES
        self.likes += sum(1 for a in extraction.attributes if a.polarity is Polarity.LIKE)
        self.dislikes += sum(1 for a in extraction.attributes if a.polarity is Polarity.DISLIKE)

    def missing(self) -> list[str]:
        """What stands between this conversation and a good profile, in words."""
        gaps = []
        if len(self.commented_images) < MIN_IMAGES:
            more = MIN_IMAGES - len(self.commented_images)
            gaps.append(f"{more} more commented {'image' if more == 1 else 'images'}")
        if len(self.categories) < MIN_CATEGORIES:
            kinds = MIN_CATEGORIES - len(self.categories)
            gaps.append(
                f"opinions on {kinds} more {'kind' if kinds == 1 else 'kinds'} of feature "
                "(colour, light, composition, style, texture, mood...)"
            )
        if self.likes < 1:
            gaps.append("at least one thing you like")
        if self.dislikes < 1:
            gaps.append("at least one thing you dislike")
        return gaps


def may_ask(asked: int, comments: int) -> bool:
    """Whether one more question keeps the session within ``QUESTIONS_PER_COMMENT`` (counting
    the comment being answered; the first comment may always ask)."""
    return asked < math.ceil(QUESTIONS_PER_COMMENT * max(1, comments))


def question_for(unsure: Sequence[UnsureItem]) -> int | None:
    """The unsure item that matters most: strongest, in the most visual category, least sure;
    ties go to reading order."""
    if not unsure:
        return None

    def weight(item: tuple[int, UnsureItem]) -> tuple[float, float, int]:
        index, entry = item
        visual = _CATEGORY_WEIGHT.get(entry.attribute.category, 0.5)
        return (entry.attribute.strength * visual, -entry.confidence, -index)

    return max(enumerate(unsure), key=weight)[0]


def progress_of(messages: Sequence[StoredMessage]) -> Progress:
    """The conversation's progress, replayed from its stored messages."""
    progress = Progress()
    for message in messages:
        if message.role == AGENT and message.kind == "show" and message.image_id:
            progress.seen_images.add(message.image_id)
        if message.role == USER and message.extraction is not None:
            progress.add(message.image_id, message.extraction)
    return progress


def question_of(
    extraction: Extraction,
    messages: Sequence[StoredMessage],
    still_open: Collection[int] | None = None,
) -> str | None:
    """The question about ``extraction``'s unsure item that matters most, within the session's
    budget (``messages``: the session so far, the comment included); None: nothing to ask.
    ``still_open``: after an answer, the positions (attributes first, then unsure items) nobody
    has answered yet; a comment with ``MAX_QUESTIONS_ABOUT_ONE_COMMENT`` answers gets no more."""
    offset = len(extraction.attributes)
    candidates = [
        u for i, u in enumerate(extraction.unsure) if still_open is None or offset + i in still_open
    ]
    index = question_for(candidates)
    if index is None:
        return None
    if still_open is not None:
        answered = len(extraction.unsure) - len(candidates)
        if answered >= MAX_QUESTIONS_ABOUT_ONE_COMMENT:
            return None
    asked = sum(1 for m in messages if m.role == AGENT and m.kind == ASK)
    comments = sum(1 for m in messages if m.role == USER and m.kind in COMMENT_KINDS)
    return candidates[index].question if may_ask(asked, comments) else None


def can_finish(progress: Progress) -> bool:
    return not progress.missing()


def needs_followup(extraction: Extraction, *, already_asked: bool) -> bool:
    return (extraction.vague or extraction.no_opinion) and not already_asked


def next_image(
    gallery: Gallery, seen: Iterable[str], covered: set[Category]
) -> GalleryImage | None:
    """The unseen image that teaches the most about uncovered categories (None when all seen)."""
    seen_ids = set(seen)
    candidates = [image for image in gallery.images if image.id not in seen_ids]
    if not candidates:
        return None
    uncovered = TASTE_CATEGORIES - covered

    def score(item: tuple[int, GalleryImage]) -> tuple[int, int]:
        order, image = item
        return (len(image.categories() & uncovered), -order)

    return max(enumerate(candidates), key=score)[1]


def followup_tag(image: GalleryImage, covered: set[Category]) -> str:
    """The visible feature a follow-up question should ask about: prefer an uncovered one."""
    tags = image.tags
    for tag in tags:
        if tag.category not in covered and tag.category in TASTE_CATEGORIES:
            return str(tag.text)
    return str(tags[0].text) if tags else image.description
