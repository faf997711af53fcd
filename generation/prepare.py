"""Stage 0 of a request (docs/design.md, "Blending"): the profiles it names, each with its
aesthetic embedding for this CLIP model, its style tokens and its references, mixed into what
the denoising loop uses; and what the plan must say about them afterwards."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from generation.aesthetic import ensure_aesthetic_embedding
from generation.blend import blend_profiles, blend_references, blend_tokens
from generation.blend_parts import BlendPart
from generation.errors import AestheticEmbeddingError, InvalidGenerationRequest
from generation.generator import PersonalizedGenerator
from generation.reference_files import ReferenceFiles
from generation.request import GenerationRequest
from generation.result import GenerationResult
from generation.style_library import UsableTokens, tokens_for
from generation.style_refs import StyleReferences, choose_references

if TYPE_CHECKING:
    from preference_store.blobs import BlobStore
    from preference_store.models import Profile
    from preference_store.store import PreferenceStore
    from preference_store.styles import StyleStore

log = logging.getLogger("tastemaker.generation")


@dataclass
class Prepared:
    """What one request generates with: its profile (a blend's, for a blend), the style tokens
    and references, and what the plan must say about them."""

    profile: Profile
    tokens: UsableTokens
    references: StyleReferences | None
    blend: dict[str, float] = field(default_factory=dict)
    blend_notes: list[str] = field(default_factory=list)


def prepare(
    generator: PersonalizedGenerator,
    store: PreferenceStore,
    owner: str,
    request: GenerationRequest,
    given: Sequence[tuple[str, bytes]],
    styles: StyleStore | None,
    blobs: BlobStore | None,
) -> Prepared:
    """Stage 0 of one request: each profile it names (one, or a blend's; docs/design.md,
    "Blending") with its aesthetic embedding for this CLIP model, its style tokens and its
    reference set, mixed by ``generation.blend`` (one profile at weight 1 is itself)."""
    own = list(given)  # the request's own style references (files), then its uploaded ones
    if request.style_ref_ids:
        if blobs is None:
            raise InvalidGenerationRequest("uploaded references need the blob store")
        own += ReferenceFiles(blobs).images(owner, request.style_ref_ids)
    parts = request.blend or [BlendPart(name="profile", owner=owner, weight=1.0)]
    profiles, tokens, references = [], [], []
    for part in parts:
        profile = profile_for(store, part.owner, request)
        try:
            profile = ensure_aesthetic_embedding(store, profile, generator.clip, blobs)
        except AestheticEmbeddingError as error:  # a broken liked-image file costs the steps
            log.warning("no aesthetic embedding for %s: %s", part.owner, error)
        profiles.append((part.name, profile, part.weight))
        tokens.append(usable_tokens(styles, part.owner, generator))
        if not own:
            chosen = choose_references(
                generator.style_adapter, store.references, profile, request.settings, (), blobs
            )
            references.append((chosen, part.weight))
    blended = blend_profiles(owner, profiles)
    weights = [part.weight for part in parts]
    return Prepared(
        profile=blended.profile,
        tokens=UsableTokens(
            style=blend_tokens([(t.style, w) for t, w in zip(tokens, weights, strict=True)]),
            negative=blend_tokens([(t.negative, w) for t, w in zip(tokens, weights, strict=True)]),
            skipped=[note for t in tokens for note in t.skipped],
        ),
        references=choose_references(
            generator.style_adapter, store.references, blended.profile, request.settings, own, blobs
        )
        if own
        else blend_references(references),
        blend={part.name: part.weight for part in request.blend or []},
        blend_notes=blended.notes,
    )


def profile_for(store: PreferenceStore, user_id: str, request: GenerationRequest) -> Profile:
    """The current profile, or the version the request pins (``VersionNotFound`` if none)."""
    profile = store.profile(user_id)
    pinned = request.profile_version
    if pinned is None or pinned == profile.version:
        return profile
    return store.profile_at(user_id, pinned)


def usable_tokens(
    styles: StyleStore | None, user_id: str, generator: PersonalizedGenerator
) -> UsableTokens:
    if styles is None:
        return UsableTokens()
    return tokens_for(styles, user_id, generator.model_name, generator.pipeline)


def note_in_plan(result: GenerationResult, ready: Prepared) -> None:
    """Stored tokens left out, and a blend's weights and decisions, go into the plan (the
    job's answer); left-out tokens into the log too."""
    if ready.tokens.skipped:
        log.warning("%s", "; ".join(ready.tokens.skipped))
        result.plan = result.plan.model_copy(update={"style_skipped": ready.tokens.skipped})
    if ready.blend:
        update = {"blend": ready.blend, "blend_notes": ready.blend_notes}
        result.plan = result.plan.model_copy(update=update)
