"""PNG files that say how they were made: prompt, seed, settings and the attributes applied."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo


def _info(metadata: dict[str, str]) -> PngInfo:
    info = PngInfo()
    for key, value in metadata.items():
        info.add_itxt(key, value)
    return info


def save_png(image: Image.Image, path: Path, metadata: dict[str, str]) -> Path:
    """Write ``image`` with one PNG text chunk per metadata entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", pnginfo=_info(metadata))
    return path


def png_bytes(image: Image.Image, metadata: dict[str, str]) -> bytes:
    """``image`` as PNG bytes with the same text chunks as ``save_png`` (for a blob store)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=_info(metadata))
    return buffer.getvalue()


def read_png_metadata(path: Path) -> dict[str, str]:
    with Image.open(path) as image:
        image.load()
        return {str(k): str(v) for k, v in getattr(image, "text", {}).items()}
