"""Images a person liked, kept by content in the blob store rather than where they lay.

A reaction that names a gallery copy or a moodboard file breaks when the data dir moves, the
file is moved, or tastemaker runs from another folder (relative paths); in distributed mode a
worker on another machine cannot open it at all. So the bytes go into the blob store under
their content hash (stored once however many people like them; a changed file is a new key)
and the reaction names the blob.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from generation.reaction_images import blob_key, blob_reference
from preference_store.blobs import BlobStore
from preference_store.models import ImageReaction

GALLERY_PREFIX = "gallery/"
MOODBOARD_PREFIX = "moodboard/"


def keep_by_content(blobs: BlobStore, path: Path, prefix: str) -> str:
    """The ``blob:`` reference of ``path``'s bytes, stored if not yet there."""
    data = path.read_bytes()
    key = f"{prefix}{hashlib.sha256(data).hexdigest()}{path.suffix.lower()}"
    if not blobs.list(key):
        try:
            blobs.put(key, data)
        except Exception:
            if not blobs.list(key):  # another node's put of the same bytes won the race
                raise
    return blob_reference(key)


def keep_files_by_content(
    reactions: Sequence[ImageReaction], blobs: BlobStore, prefix: str = GALLERY_PREFIX
) -> tuple[list[ImageReaction], int]:
    """``reactions`` with each readable file path replaced by its blob reference (profiles made
    before images were kept by content), and how many were moved; missing files stay as they
    are, for ``prefs images`` to show."""
    kept, moved = [], 0
    for reaction in reactions:
        path = Path(reaction.path) if reaction.path and not blob_key(reaction.path) else None
        if path is not None and path.is_file():
            reaction = reaction.model_copy(update={"path": keep_by_content(blobs, path, prefix)})
            moved += 1
        kept.append(reaction)
    return kept, moved
