"""Turning every comment's attributes into one profile at the end of an onboarding.

Rules:
* Same normalised text, same polarity → one attribute: evidence joined, strength the strongest
  mention plus 0.1 for each further mention (capped at 1.0), category of the first mention.
* Same normalised text in both polarities → weigh each side by the sum of its strengths. If one
  side weighs at least twice the other, it wins, with its strength reduced by the other side's
  share; otherwise the person is ambivalent and the attribute is dropped (ViPer drops an
  attribute that lands in both lists).
* Image reactions: an image counts as liked when its comments were positive overall and as
  disliked when negative (after corrections, the verdict is read anew from the corrected and
  answered attributes: ``verdict_of``); the weight is the mean strength of the attributes that
  agree with that verdict (0.7 when the comment named none). Skipped images are not recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.extraction import Extraction
from agent.sessions import USER, StoredMessage
from preference_store.models import (
    AttributeDraft,
    ImageReaction,
    Polarity,
    normalize_attribute_text,
)

MENTION_BONUS = 0.1
WIN_RATIO = 2.0


def _merge_same(drafts: Sequence[AttributeDraft]) -> AttributeDraft:
    first = drafts[0]
    strength = min(1.0, max(d.strength for d in drafts) + MENTION_BONUS * (len(drafts) - 1))
    evidence = [e for d in drafts for e in d.evidence]
    return first.model_copy(update={"strength": round(strength, 3), "evidence": evidence})


def consolidate(drafts: Sequence[AttributeDraft]) -> tuple[list[AttributeDraft], list[str]]:
    """Merged attributes (first-mention order) and notes on what was dropped and why."""
    groups: dict[str, dict[Polarity, list[AttributeDraft]]] = {}
    for draft in drafts:
        key = normalize_attribute_text(draft.text)
        groups.setdefault(key, {}).setdefault(draft.polarity, []).append(draft)
    merged: list[AttributeDraft] = []
    notes: list[str] = []
    for key, sides in groups.items():
        if len(sides) == 1:
            (only,) = sides.values()
            merged.append(_merge_same(only))
            continue
        like = sum(d.strength for d in sides[Polarity.LIKE])
        dislike = sum(d.strength for d in sides[Polarity.DISLIKE])
        if like >= WIN_RATIO * dislike or dislike >= WIN_RATIO * like:
            winner = Polarity.LIKE if like > dislike else Polarity.DISLIKE
            result = _merge_same(sides[winner])
            share = min(like, dislike) / (like + dislike)
            strength = round(result.strength * (1 - share), 3)
            merged.append(result.model_copy(update={"strength": strength}))
            notes.append(f"'{key}': mostly {winner.value}d, kept as {winner.value}")
        else:
            notes.append(f"'{key}': both liked and disliked about equally, left out")
    return merged, notes


@dataclass(frozen=True)
class ImageVerdict:
    image_id: str
    path: str | None
    overall: Polarity | None
    attributes: tuple[AttributeDraft, ...]


def verdict_of(attributes: Sequence[AttributeDraft]) -> Polarity | None:
    """An image's verdict from what was liked and disliked in it (by strength; a tie is none)."""
    like = sum(a.strength for a in attributes if a.polarity is Polarity.LIKE)
    dislike = sum(a.strength for a in attributes if a.polarity is Polarity.DISLIKE)
    if like == dislike:
        return None
    return Polarity.LIKE if like > dislike else Polarity.DISLIKE


def image_verdicts(
    messages: Sequence[StoredMessage], path_of: Callable[[str], str | None]
) -> list[ImageVerdict]:
    """Each commented image's verdict and attributes, from the (corrected) messages;
    ``path_of`` gives where a gallery image is kept (None: not in the gallery any more)."""
    by_image: dict[str, list[Extraction]] = {}
    for message in messages:
        if message.role == USER and message.extraction and message.image_id:
            by_image.setdefault(message.image_id, []).append(message.extraction)
    verdicts = []
    for image_id, extractions in by_image.items():
        overall = next((e.overall for e in extractions if e.overall is not None), None)
        attributes = tuple(a for e in extractions for a in e.attributes)
        verdicts.append(ImageVerdict(image_id, path_of(image_id), overall, attributes))
    return verdicts


def image_reactions(
    verdicts: Sequence[ImageVerdict],
) -> tuple[list[ImageReaction], list[ImageReaction]]:
    liked: list[ImageReaction] = []
    disliked: list[ImageReaction] = []
    for verdict in verdicts:
        if verdict.overall is None:
            continue
        agreeing = [a.strength for a in verdict.attributes if a.polarity is verdict.overall]
        weight = round(sum(agreeing) / len(agreeing), 3) if agreeing else 0.7
        reaction = ImageReaction(
            image_id=verdict.image_id, weight=max(0.05, weight), path=verdict.path
        )
        (liked if verdict.overall is Polarity.LIKE else disliked).append(reaction)
    return liked, disliked
