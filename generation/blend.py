"""Blending profiles (docs/design.md, "Blending"): one generation in several of a person's
tastes at once, ``default:0.7,zines:0.3``.

Pure, like the plan: the caller hands each profile (with its aesthetic embeddings), its style
tokens and its reference set, and gets one profile, one token mix and one reference set back,
which then go through the one generation path like any profile's. With weights wᵢ (≥ 0,
normalised to sum 1):

- an attribute's signed strength is summed over the profiles, ``Σ wᵢ·sᵢ·(+1 liked, −1
  disliked)`` (a profile without it adds 0): the sign is the blended polarity and the size its
  strength, so one liked in one profile and disliked in another is decided by weight, and the
  plan says how (``ConditioningPlan.blend_notes``); a tie drops it;
- liked and disliked images keep their weights times wᵢ;
- aesthetic and reference embeddings are the wᵢ-weighted means of the profiles that have one
  (the aesthetic one normalised again);
- style tokens are injected each at its wᵢ (``StyleToken.mix``): ``E(p) + w·Σ wᵢ·(E(p+tokenᵢ) −
  E(p))``.

A blend of one profile at weight 1 is that profile exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from generation.style_refs import StyleReferences
from generation.style_token import StyleToken
from preference_store.merge_key import merge_key
from preference_store.models import ImageReaction, Polarity, Profile, VisualAttribute

TIE = 1e-9


@dataclass(frozen=True)
class Blended:
    """What a blend generates with, and what the plan says about it."""

    profile: Profile
    notes: list[str]


def blend_profiles(user_id: str, parts: Sequence[tuple[str, Profile, float]]) -> Blended:
    """One profile for ``user_id`` from (name, profile, weight) parts (weights summing to 1)."""
    if len(parts) == 1:
        return Blended(parts[0][1], [])
    groups: dict[str, list[tuple[str, VisualAttribute, float]]] = {}
    for name, profile, weight in parts:
        for attribute in profile.attributes:
            groups.setdefault(merge_key(attribute.text), []).append((name, attribute, weight))
    attributes: list[VisualAttribute] = []
    notes: list[str] = []
    for members in groups.values():
        signed = sum(
            w * a.strength * (1 if a.polarity is Polarity.LIKE else -1) for _, a, w in members
        )
        first = max(members, key=lambda m: m[2] * m[1].strength)[1]
        if len({a.polarity for _, a, _ in members}) > 1:
            notes.append(_conflict(first.text, members, signed))
        if abs(signed) <= TIE:
            continue
        polarity = Polarity.LIKE if signed > 0 else Polarity.DISLIKE
        attributes.append(
            first.model_copy(
                update={
                    "user_id": user_id,
                    "polarity": polarity,
                    "strength": round(min(1.0, abs(signed)), 6),
                }
            )
        )
    liked = _reactions([(p.liked_images, w) for _, p, w in parts])
    disliked = _reactions([(p.disliked_images, w) for _, p, w in parts])
    profile = Profile(
        user_id=user_id,
        version=0,
        attributes=attributes,
        liked_images=liked,
        disliked_images=disliked,
        aesthetic_embeddings=_mean_embeddings(parts),
    )
    return Blended(profile, notes)


def _conflict(text: str, members: list[tuple[str, VisualAttribute, float]], signed: float) -> str:
    said = " and ".join(
        f"{'liked' if a.polarity is Polarity.LIKE else 'disliked'} in {name} "
        f"({w:.2f} × {a.strength:.2f})"
        for name, a, w in members
    )
    if abs(signed) <= TIE:
        return f"{text!r}: {said}: they cancel out, left out"
    verdict = "liked" if signed > 0 else "disliked"
    return f"{text!r}: {said}: {verdict} at strength {abs(signed):.2f} by the blend's weights"


def _reactions(sides: list[tuple[list[ImageReaction], float]]) -> list[ImageReaction]:
    out: dict[str, ImageReaction] = {}
    for reactions, weight in sides:
        for reaction in reactions:
            scaled = reaction.weight * weight
            known = out.get(reaction.image_id)
            if scaled > 0 and (known is None or known.weight < scaled):
                out[reaction.image_id] = reaction.model_copy(update={"weight": scaled})
    return list(out.values())


def _mean_embeddings(parts: Sequence[tuple[str, Profile, float]]) -> dict[str, list[float]]:
    models = {m for _, p, _ in parts for m in p.aesthetic_embeddings}
    out = {}
    for model in sorted(models):
        having = [
            (torch.tensor(p.aesthetic_embeddings[model], dtype=torch.float64), w)
            for _, p, w in parts
            if model in p.aesthetic_embeddings
        ]
        mean = torch.stack([v * w for v, w in having]).sum(0) / sum(w for _, w in having)
        out[model] = [float(x) for x in mean / mean.norm().clamp_min(1e-12)]
    return out


def blend_references(
    sets: Sequence[tuple[StyleReferences | None, float]],
) -> StyleReferences | None:
    """The weighted mean of the profiles' reference embeddings (those that have one)."""
    having = [(s, w) for s, w in sets if s is not None]
    if len(sets) == 1 or not having:
        return sets[0][0] if len(sets) == 1 else None
    total = sum(w for _, w in having)
    mean = torch.stack([s.embedding * (w / total) for s, w in having]).sum(0)
    sources = tuple(source for s, _ in having for source in s.sources)
    return StyleReferences(mean, sources, "blend")


def blend_tokens(tokens: Sequence[tuple[StyleToken | None, float]]) -> StyleToken | None:
    """The profiles' tokens injected each at its weight (None when none has one)."""
    having = tuple((t, w) for t, w in tokens if t is not None)
    if len(tokens) == 1 or not having:
        return tokens[0][0] if len(tokens) == 1 else None
    first = having[0][0]
    return StyleToken(
        token_id="+".join(t.token_id for t, _ in having),
        name=first.name,
        vectors=first.vectors,
        negative=first.negative,
        mix=having,
    )
