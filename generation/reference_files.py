"""Uploaded style-reference images, kept per person in the blob store (``POST /v1/references``).

A reference is stored under ``references/<owner folder>/<id>.<png|jpg|webp>``: the owner folder
is a hash of the user id, the id the first 24 hex digits of the SHA-256 of the bytes (the same
image uploaded twice is one reference). Ownership is the key itself: another person's id is
simply not in your folder. An upload is checked before anything is kept: at most
``MAX_REFERENCE_BYTES``, PNG/JPEG/WebP by its own header, at most ``MAX_REFERENCE_SIDE``² pixels
read from the header before decoding, then decoded in full (a truncated file is refused).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from generation.errors import InvalidGenerationRequest
from generation.reaction_images import ImageTooLarge, decode_image_bytes
from generation.reference_ids import MAX_REFERENCE_BYTES, REFERENCE_ID_PATTERN, content_id

if TYPE_CHECKING:
    from preference_store.blobs import BlobStore

MAX_REFERENCE_SIDE = 4096
MAX_REFERENCES_PER_USER = 200
FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
_ID = re.compile(REFERENCE_ID_PATTERN)


class ReferenceTooLarge(InvalidGenerationRequest):
    """Over the byte limit (HTTP 413); nothing was decoded or kept."""


@dataclass(frozen=True)
class StoredReference:
    id: str
    format: str
    bytes: int


def _folder(user_id: str) -> str:
    return "references/" + hashlib.sha256(user_id.encode()).hexdigest()[:32]


class ReferenceFiles:
    """Add, list, read and delete one person's reference images."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs

    def add(self, user_id: str, data: bytes) -> StoredReference:
        """Check ``data`` and keep it; the same bytes again give the same reference."""
        if len(data) > MAX_REFERENCE_BYTES:
            raise ReferenceTooLarge(
                f"the image is {len(data):,} bytes; a reference is at most "
                f"{MAX_REFERENCE_BYTES:,} bytes"
            )
        kind = check_reference_image(data)
        reference = content_id(data)
        if self.find(user_id, reference) is None:
            if len(self.all(user_id)) >= MAX_REFERENCES_PER_USER:
                raise InvalidGenerationRequest(
                    f"you have {MAX_REFERENCES_PER_USER} references already; delete some first"
                )
            self._blobs.put(f"{_folder(user_id)}/{reference}.{kind}", data)
        return StoredReference(reference, kind, len(data))

    def all(self, user_id: str) -> list[StoredReference]:
        found = []
        for key in self._blobs.list(_folder(user_id) + "/"):
            name = key.rsplit("/", 1)[-1]
            reference, _, kind = name.partition(".")
            data = self._blobs.get(key)
            if data is not None:
                found.append(StoredReference(reference, kind, len(data)))
        return found

    def find(self, user_id: str, reference: str) -> str | None:
        """The blob key of the person's reference ``reference``, or None."""
        if not _ID.match(reference):
            return None
        for kind in FORMATS.values():
            key = f"{_folder(user_id)}/{reference}.{kind}"
            if self._blobs.get(key) is not None:
                return key
        return None

    def read(self, user_id: str, reference: str) -> bytes | None:
        key = self.find(user_id, reference)
        return self._blobs.get(key) if key is not None else None

    def delete(self, user_id: str, reference: str) -> bool:
        key = self.find(user_id, reference)
        if key is None:
            return False
        self._blobs.delete(key)
        return True

    def images(self, user_id: str, references: Sequence[str]) -> list[tuple[str, bytes]]:
        """(id, bytes) for a request's ``style_ref_ids``; an unknown id is a one-line error."""
        found = []
        for reference in references:
            data = self.read(user_id, reference)
            if data is None:
                raise InvalidGenerationRequest(f"no reference {reference} (upload it first)")
            found.append((reference, data))
        return found


def check_reference_image(data: bytes) -> str:
    """The file's format (png/jpg/webp) after checking its header's size and decoding it."""
    try:
        with Image.open(io.BytesIO(data)) as header:  # reads the header only
            kind = FORMATS.get(str(header.format))
            width, height = header.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError):
        kind, width, height = None, 0, 0
        try:
            decode_image_bytes(data, "the image", MAX_REFERENCE_SIDE**2)
        except ImageTooLarge:
            raise
        except Exception:
            raise InvalidGenerationRequest(
                "the upload is not an image (PNG, JPEG or WebP)"
            ) from None
    if kind is None:
        raise InvalidGenerationRequest("the upload is not a PNG, JPEG or WebP image")
    if max(width, height) > MAX_REFERENCE_SIDE:
        raise ImageTooLarge(
            f"the image is {width}×{height}; a reference is at most "
            f"{MAX_REFERENCE_SIDE}×{MAX_REFERENCE_SIDE}"
        )
    try:
        decode_image_bytes(data, "the image", MAX_REFERENCE_SIDE**2)
    except (OSError, UnidentifiedImageError):
        raise InvalidGenerationRequest("the image is damaged or truncated") from None
    return kind
