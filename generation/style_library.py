"""A person's style tokens end to end: train from the profile's images and store; load for use.

The one place that joins training (``style_training``), files (``style_formats``) and the
store (``preference_store.styles``), so the CLI, the HTTP job and tests share one flow.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image
from pydantic import ValidationError

from generation.encoding import SDPipeline
from generation.errors import InvalidGenerationRequest
from generation.reaction_images import (
    MAX_INPUT_PIXELS,
    describe_unreadable,
    open_reaction_image,
)
from generation.style_formats import encoder_widths, family, from_blob, read_token_file, to_blob
from generation.style_token import StyleToken
from generation.style_training import (
    MAX_IMAGES,
    MIN_IMAGES,
    ProgressCallback,
    StopCheck,
    TrainingConfig,
    TrainingImage,
    TrainingResult,
    choose_init_word,
    train_style_token,
)
from preference_store.blobs import BlobStore
from preference_store.errors import InvalidImport
from preference_store.models import ImageReaction, Profile
from preference_store.styles import StyleRecord, StyleStore, by_preference, check

CHECK_SIZE = 64  # the up-front read decodes this small where the format allows (JPEG)


class TokenWriter(Protocol):
    """Where a trained token goes: ``StyleStore``, or a job's results (stored when it is done)."""

    def add(self, record: StyleRecord, blob: bytes) -> StyleRecord: ...


@dataclass
class ImportedStyle:
    record: StyleRecord
    added: bool  # False: the same token was already there, nothing stored


@dataclass
class TrainedStyle:
    record: StyleRecord | None
    result: TrainingResult


def token_name(user_id: str, negative: bool) -> str:
    """``<alice-style>``; a named profile's label is ``alice-zines`` (50 characters at most)."""
    return f"<{user_id[:50]}-{'negative' if negative else 'style'}>"


def reaction_images(
    reactions: Sequence[ImageReaction],
    blobs: BlobStore | None = None,
    *,
    max_pixels: int = MAX_INPUT_PIXELS,
) -> list[TrainingImage]:
    """Each reaction's image (a file, or a generated image in ``blobs``) as a training image
    that is opened again, at the training size, when its latents are made. Too many, none, one
    over ``max_pixels`` (refused from its header) or an unreadable one is refused up front:
    each is decoded here once, reduced, and let go, so memory holds one image at a time."""
    usable = [r for r in reactions if r.path]
    if not MIN_IMAGES <= len(usable) <= MAX_IMAGES:
        raise InvalidGenerationRequest(
            f"training needs {MIN_IMAGES} to {MAX_IMAGES} images with files, got {len(usable)}"
        )
    images = []
    for reaction in usable:
        opener = functools.partial(_open_for_training, reaction, blobs, max_pixels)
        opener(CHECK_SIZE).close()
        images.append(TrainingImage(opener, reaction.weight))
    return images


def _open_for_training(
    reaction: ImageReaction, blobs: BlobStore | None, max_pixels: int, size: int
) -> Image.Image:
    try:
        return open_reaction_image(reaction, blobs, max_pixels=max_pixels, size=size)
    except OSError as error:  # PIL's UnidentifiedImageError is one
        raise InvalidGenerationRequest(f"{reaction.path}: {describe_unreadable(error)}") from None


def train_for_profile(
    pipeline: SDPipeline,
    *,
    model: str,
    profile: Profile,
    styles: TokenWriter,
    negative: bool = False,
    config: TrainingConfig | None = None,
    progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    keep_cancelled: bool = True,
    blobs: BlobStore | None = None,
    max_pixels: int = MAX_INPUT_PIXELS,
    label: str | None = None,
) -> TrainedStyle:
    """Train the profile's positive (liked images) or negative (disliked) token and store it
    (generated images among them are read from ``blobs``); the token is named after
    ``label`` (a named profile's ``user-name``), else the profile's owner.

    A cancelled run keeps its last vectors (a usable, shorter-trained token) unless
    ``keep_cancelled`` is false; a failed run stores nothing.
    """
    config = (config or TrainingConfig()).check()
    reactions = profile.disliked_images if negative else profile.liked_images
    images = reaction_images(reactions, blobs, max_pixels=max_pixels)
    init_word = choose_init_word(None if negative else profile, pipeline.tokenizer)
    result = train_style_token(
        pipeline,
        images,
        config=config,
        init_word=init_word,
        progress=progress,
        should_stop=should_stop,
    )
    if result.steps == 0 or (result.cancelled and not keep_cancelled):
        return TrainedStyle(None, result)
    record = StyleRecord(
        user_id=profile.user_id,
        model=model,
        family=family(encoder_widths(pipeline)),
        name=token_name(label or profile.user_id, negative),
        negative=negative,
        profile_version=profile.version,
        image_ids=[r.image_id for r in reactions if r.path],
        steps=result.steps,
        losses=[round(v, 6) for v in result.losses],
        init_word=init_word,
        vectors=config.vectors,
        cancelled=result.cancelled,
    )
    return TrainedStyle(styles.add(record, to_blob(result.vectors)), result)


def as_token(record: StyleRecord, blob: bytes) -> StyleToken:
    return StyleToken(
        token_id=record.id,
        name=record.name,
        vectors=from_blob(blob),
        profile_version=record.profile_version,
        negative=record.negative,
    )


@dataclass
class UsableTokens:
    """The style tokens a generation uses, and the stored ones it left out (with why)."""

    style: StyleToken | None = None
    negative: StyleToken | None = None
    skipped: list[str] = field(default_factory=list)


def tokens_for(styles: StyleStore, user_id: str, model: str, pipeline: SDPipeline) -> UsableTokens:
    """The default usable positive and negative tokens of this user for this model (see
    ``by_preference``: a cancelled training only when chosen).

    A stored token that fails the store's check (one kept from before every token was
    checked) or does not fit this pipeline's encoders is skipped and named in ``skipped``:
    one broken token must never fail a person's generations."""
    widths = family(encoder_widths(pipeline))
    usable = UsableTokens()
    records = styles.list_tokens(user_id)
    others = sorted({r.model for r in records} - {model})
    # None for this model, some for others: docs/design.md, "Rebuilding for a new model".
    if others and not any(r.model == model for r in records):
        usable.skipped.append(
            f"no style token for {model} yet (this profile has tokens for {', '.join(others)}): "
            f"learn them again from the same images with `tastemaker profiles rebuild USER "
            f"--model {model}` (HTTP: POST /v1/profiles/NAME/rebuild)"
        )
    for record in by_preference([r for r in records if r.model == model]):
        if (usable.negative if record.negative else usable.style) is not None:
            continue
        _, blob = styles.get(user_id, record.id)
        try:
            check(record, blob)
            if record.family != widths:
                raise InvalidImport(f"it is for encoders {record.family}, this model has {widths}")
        except InvalidImport as error:
            usable.skipped.append(f"style token {record.id} skipped: {error}")
            continue
        if record.negative:
            usable.negative = as_token(record, blob)
        else:
            usable.style = as_token(record, blob)
    return usable


def import_token_file(
    pipeline: SDPipeline,
    *,
    model: str,
    user_id: str,
    data: bytes,
    filename: str,
    styles: StyleStore,
    negative: bool = False,
) -> ImportedStyle:
    """Check a diffusers/A1111 file against the model, then store it (nothing on any error,
    nothing when the user has this token, by name and vectors, for this model already)."""
    widths = encoder_widths(pipeline)
    vectors, name = read_token_file(data, filename, widths)
    fields = {
        "user_id": user_id,
        "model": model,
        "family": family(widths),
        "negative": negative,
        "source": "imported",
        "vectors": int(next(iter(vectors.values())).shape[0]),
    }
    try:
        record = StyleRecord(**fields, name=name[:64])
    except ValidationError:  # no name, or one that text may not hold: ours
        record = StyleRecord(**fields, name=token_name(user_id, negative))
    blob = to_blob(vectors)
    existing = styles.same_as(record, blob)
    if existing is not None:
        return ImportedStyle(existing, added=False)
    return ImportedStyle(styles.add(record, blob), added=True)
