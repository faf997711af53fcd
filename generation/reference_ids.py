"""The shape of style-reference ids and how many one request may name (no model, no PIL: the
request schema imports it)."""

import hashlib

MAX_REQUEST_REFERENCES = 16
REFERENCE_ID_PATTERN = r"^[0-9a-f]{24}$"
MAX_REFERENCE_BYTES = 10 * 1024 * 1024  # an uploaded or --ref image file


def content_id(data: bytes) -> str:
    """A reference's id: the first 24 hex digits of the SHA-256 of its bytes (the same image
    uploaded twice is one reference; a PNG made from an init image names it by this id)."""
    return hashlib.sha256(data).hexdigest()[:24]
