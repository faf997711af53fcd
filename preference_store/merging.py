"""The merge rules, as pure functions over a profile's contents.

Attributes, in the order they arrive:

1. Same user, same normalized text (case, spacing, edge punctuation ignored), same polarity:
   one attribute. The newer statement sets the strength, the evidence of both is kept, the id
   stays.
2. Same user, same normalized text, opposite polarity: the newer one supersedes the older,
   which is removed (the person changed their mind; the old one stays readable in past
   versions).

Image reactions: a new reaction to an image replaces any earlier one to the same image, in
either list; reactions to other images are kept. Chosen images (picked in pairs, ``chosen``)
are replaced as one set whenever they are written: a person's words about an image win over
their picks, so an image with a reaction in words is never also a chosen one.
"""

from __future__ import annotations

from collections.abc import Sequence

from preference_store.models import (
    AttributeDraft,
    ImageReaction,
    Profile,
    VisualAttribute,
    normalize_attribute_text,
    utc_now,
)

MAX_EVIDENCE_ITEMS = 20  # per attribute, by default (preference_store.quota)


def merge_drafts(
    user_id: str,
    attributes: Sequence[VisualAttribute],
    drafts: Sequence[AttributeDraft],
    max_evidence: int = MAX_EVIDENCE_ITEMS,
) -> tuple[list[VisualAttribute], list[VisualAttribute]]:
    """Apply the merge rules: (the user's new attribute list, the stored form of each draft).
    A merged attribute keeps its newest ``max_evidence`` pieces of evidence."""
    by_norm = {a.normalized_text: a for a in attributes}
    results: list[VisualAttribute] = []
    for draft in drafts:
        norm = normalize_attribute_text(draft.text)
        previous = by_norm.get(norm)
        if previous is not None and previous.polarity is draft.polarity:
            evidence = list(dict.fromkeys(previous.evidence + draft.evidence))
            merged = previous.model_copy(
                update={
                    "strength": draft.strength,
                    "evidence": evidence[-max_evidence:],
                    "updated_at": utc_now(),
                }
            )
        else:  # new, or supersedes the opposite polarity
            merged = VisualAttribute(user_id=user_id, **draft.model_dump())
        by_norm[norm] = merged
        results.append(merged)
    final = list(by_norm.values())
    latest = {a.id: a for a in final}
    return final, [latest.get(r.id, r) for r in results]


def merge_reactions(
    profile: Profile, liked: Sequence[ImageReaction], disliked: Sequence[ImageReaction]
) -> tuple[list[ImageReaction], list[ImageReaction]]:
    """The profile's liked and disliked images after these new reactions."""
    renewed = {r.image_id for r in (*liked, *disliked)}
    return (
        [r for r in profile.liked_images if r.image_id not in renewed] + list(liked),
        [r for r in profile.disliked_images if r.image_id not in renewed] + list(disliked),
    )


def merge_chosen(
    profile: Profile, chosen: Sequence[ImageReaction], room: int | None = None
) -> list[ImageReaction]:
    """The liked images with the chosen ones replaced by ``chosen`` (strongest first; those
    the person reacted to in words left out; at most ``room`` more images than the profile's
    other reactions, so a quota is never passed by picks)."""
    said = [r for r in profile.liked_images if not r.chosen]
    spoken = {r.image_id for r in (*said, *profile.disliked_images) if not r.chosen}
    fresh = [r.model_copy(update={"chosen": True}) for r in chosen if r.image_id not in spoken]
    fresh.sort(key=lambda r: -r.weight)
    if room is not None:
        fresh = fresh[: max(0, room - len(said) - len(profile.disliked_images))]
    return said + fresh


def chosen_differs(profile: Profile, chosen: Sequence[ImageReaction], room: int | None) -> bool:
    """Whether writing ``chosen`` would change the profile's chosen images (else no version)."""

    def pairs(images: Sequence[ImageReaction]) -> list[tuple[str, float]]:
        return sorted((r.image_id, r.weight) for r in images if r.chosen)

    return pairs(merge_chosen(profile, chosen, room)) != pairs(profile.liked_images)
