"""The picture behind an image reaction, wherever it is kept, checked before it is decoded.

A reaction names its image by ``path``: a file (gallery images, moodboards, round-1 data) or a
blob key after ``blob:`` (generated images, which live in the blob store: files when embedded,
database rows in distributed mode, so no API node or worker has them as a local file).

A decoded image takes 3 bytes a pixel (a 9000² file 243 MB, a 30000² "decompression bomb" of a
few KB 2.7 GB), so the size its header declares is checked first (``Image.open`` reads only the
header) against ``max_pixels``, and an image wanted at a smaller ``size`` is decoded reduced.
"""

from __future__ import annotations

import io
import warnings
from typing import IO, TYPE_CHECKING

from PIL import Image

from generation.errors import InvalidGenerationRequest
from preference_store.models import ImageReaction

if TYPE_CHECKING:  # the SQL blob store pulls in SQLAlchemy; reading needs only ``get``
    from preference_store.blobs import BlobStore

BLOB_PREFIX = "blob:"
MAX_INPUT_PIXELS = 64_000_000  # 8000 × 8000: 192 MB decoded, one image at a time


class ImageTooLarge(InvalidGenerationRequest):
    """An input image whose header declares more pixels than allowed; nothing was decoded."""


def blob_reference(key: str) -> str:
    """The ``ImageReaction.path`` of an image kept in the blob store under ``key``."""
    return f"{BLOB_PREFIX}{key}"


def blob_key(path: str) -> str | None:
    """The blob key a reaction's ``path`` names, or None for a file path."""
    return path.removeprefix(BLOB_PREFIX) if path.startswith(BLOB_PREFIX) else None


def _declared_size(file: IO[bytes]) -> tuple[int, int] | None:
    """The size the header declares, read by the format's plugin itself: ``Image.open`` refuses
    a bomb past Pillow's own limit without saying how large it is."""
    Image.init()
    for name in Image.ID:
        factory, accept = Image.OPEN[name]
        file.seek(0)
        if accept is not None and not accept(file.read(16)):
            continue
        file.seek(0)
        try:
            width, height = factory(file, "").size
        except Exception:  # not this format: plugins raise many kinds
            continue
        return width, height
    return None


def _too_large(where: str, size: tuple[int, int] | None, max_pixels: int) -> ImageTooLarge:
    declared = f"{size[0]}×{size[1]}" if size else "over Pillow's limit"
    return ImageTooLarge(f"{where}: too large: {declared} (at most {max_pixels:,} pixels)")


def _open(file: IO[bytes], where: str, max_pixels: int) -> Image.Image:
    """The image with only its header read; ``ImageTooLarge`` past ``max_pixels``."""
    try:
        with warnings.catch_warnings():  # between Pillow's warning and error: ours decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(file)
    except Image.DecompressionBombError:
        raise _too_large(where, _declared_size(file), max_pixels) from None
    if image.width * image.height > max_pixels:
        image.close()
        raise _too_large(where, image.size, max_pixels)
    return image


def _decoded(image: Image.Image, size: int | None) -> Image.Image:
    """RGB, its short side reduced towards ``size`` while decoding (never below it)."""
    with image:
        if size is not None:
            image.draft("RGB", (size, size))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
            factor = min(image.size) // size
            if factor > 1:
                return image.reduce(factor).convert("RGB")
        return image.convert("RGB")


def open_image_file(path: str, *, max_pixels: int = MAX_INPUT_PIXELS) -> Image.Image:
    """A file the person named, as RGB; raises as ``open_reaction_image`` does."""
    with open(path, "rb") as file:
        return _decoded(_open(file, path, max_pixels), None)


def describe_unreadable(error: OSError) -> str:
    """Why a file could not be read, in words (never an exception class name)."""
    from PIL import UnidentifiedImageError

    if isinstance(error, UnidentifiedImageError):
        return "not an image"
    if isinstance(error, FileNotFoundError):
        return "file not found"
    if isinstance(error, IsADirectoryError):
        return "a folder with no images in it"
    if isinstance(error, PermissionError):
        return "not allowed to read it"
    return f"cannot read it ({error.strerror or 'damaged or truncated'})"


def open_reaction_image(
    reaction: ImageReaction,
    blobs: BlobStore | None,
    *,
    max_pixels: int = MAX_INPUT_PIXELS,
    size: int | None = None,
) -> Image.Image:
    """The reaction's image as RGB, fully read (with ``size``, its short side reduced towards
    ``size``). Raises ``ImageTooLarge`` (a one-line ``InvalidGenerationRequest`` naming the file
    and its size) before decoding one over ``max_pixels``, and ``OSError``
    (``FileNotFoundError`` for a file or blob that is not there,
    ``PIL.UnidentifiedImageError`` for one that is no image), which each caller turns into its
    own error."""
    if not reaction.path:
        raise FileNotFoundError(f"image {reaction.image_id!r} has no file")
    key = blob_key(reaction.path)
    if key is None:
        with open(reaction.path, "rb") as file:
            return _decoded(_open(file, reaction.path, max_pixels), size)
    if blobs is None:
        raise FileNotFoundError(f"{reaction.path} is in the blob store, and none was given")
    data = blobs.get(key)
    if data is None:
        raise FileNotFoundError(f"{reaction.path} is no longer in the blob store")
    return _decoded(_open(io.BytesIO(data), reaction.path, max_pixels), size)


def decode_image_bytes(data: bytes, where: str, max_pixels: int = MAX_INPUT_PIXELS) -> Image.Image:
    """Bytes the person gave, as RGB, fully read; its header's size checked first."""
    image = _decoded(_open(io.BytesIO(data), where, max_pixels), None)
    image.load()
    return image


def reaction_bytes(reaction: ImageReaction, blobs: BlobStore | None) -> bytes:
    """The bytes of the reaction's image (a file or a blob), for hashing and decoding."""
    if not reaction.path:
        raise FileNotFoundError(f"image {reaction.image_id!r} has no file")
    key = blob_key(reaction.path)
    if key is None:
        with open(reaction.path, "rb") as file:
            return file.read()
    data = blobs.get(key) if blobs is not None else None
    if data is None:
        raise FileNotFoundError(f"{reaction.path} is not in the blob store")
    return data
