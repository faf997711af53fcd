"""The onboarding policy, as plain rules a reader can check.

* Ask one follow-up when a comment is vague or carries no opinion (never twice for one image).
* Next image: the unseen one whose tags cover the most categories nobody has commented on yet;
  ties go to gallery order, so the order adapts to the person instead of being fixed.
* Offer to finish after at least 8 commented images covering at least 4 categories, with at
  least one like and one dislike (ViPer: fewer than 8 comments gives poor profiles).
* ``done`` before that finishes anyway, with a warning that says what is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.extraction import Extraction
from agent.gallery import Gallery, GalleryImage
from preference_store.models import Category, Polarity

MIN_IMAGES = 8
MIN_CATEGORIES = 4
# Categories that say something about taste (subject matter and "other" do not count).
TASTE_CATEGORIES = frozenset(Category) - {Category.SUBJECT, Category.OTHER}


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
            gaps.append(f"{MIN_IMAGES - len(self.commented_images)} more commented images")
        if len(self.categories) < MIN_CATEGORIES:
            gaps.append(
                f"opinions on {MIN_CATEGORIES - len(self.categories)} more kinds of feature "
                "(colour, light, composition, style, texture, mood...)"
            )
        if self.likes < 1:
            gaps.append("at least one thing you like")
        if self.dislikes < 1:
            gaps.append("at least one thing you dislike")
        return gaps


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
