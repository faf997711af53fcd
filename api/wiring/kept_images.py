"""Images a person liked, kept by content in the blob store rather than where they lay.

A reaction that names a gallery copy or a moodboard file breaks when the data dir moves, the
file is moved, or tastemaker runs from another folder (relative paths); in distributed mode a
worker on another machine cannot open it at all. So the bytes go into the blob store under
their content hash (stored once however many people like them; a changed file is a new key)
and the reaction names the blob.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from generation.reaction_images import blob_reference
from preference_store.blobs import BlobStore

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
