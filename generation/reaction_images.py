"""The picture behind an image reaction, wherever it is kept.

A reaction names its image by ``path``: a file (gallery images, moodboards, round-1 data) or a
blob key after ``blob:`` (generated images, which live in the blob store: files when embedded,
database rows in distributed mode, so no API node or worker has them as a local file).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from PIL import Image

from preference_store.models import ImageReaction

if TYPE_CHECKING:  # the SQL blob store pulls in SQLAlchemy; reading needs only ``get``
    from preference_store.blobs import BlobStore

BLOB_PREFIX = "blob:"


def blob_reference(key: str) -> str:
    """The ``ImageReaction.path`` of an image kept in the blob store under ``key``."""
    return f"{BLOB_PREFIX}{key}"


def blob_key(path: str) -> str | None:
    """The blob key a reaction's ``path`` names, or None for a file path."""
    return path.removeprefix(BLOB_PREFIX) if path.startswith(BLOB_PREFIX) else None


def open_reaction_image(reaction: ImageReaction, blobs: BlobStore | None) -> Image.Image:
    """The reaction's image as RGB, fully read. Raises ``OSError`` (``FileNotFoundError`` for a
    file or blob that is not there, ``PIL.UnidentifiedImageError`` for one that is no image),
    which each caller turns into its own error."""
    if not reaction.path:
        raise FileNotFoundError(f"image {reaction.image_id!r} has no file")
    key = blob_key(reaction.path)
    if key is None:
        with Image.open(reaction.path) as image:
            return image.convert("RGB")
    if blobs is None:
        raise FileNotFoundError(f"{reaction.path} is in the blob store, and none was given")
    data = blobs.get(key)
    if data is None:
        raise FileNotFoundError(f"{reaction.path} is no longer in the blob store")
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")
