"""PNG files that say how they were made: prompt, seed, settings and the attributes applied."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo


def save_png(image: Image.Image, path: Path, metadata: dict[str, str]) -> Path:
    """Write ``image`` with one PNG text chunk per metadata entry."""
    info = PngInfo()
    for key, value in metadata.items():
        info.add_itxt(key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", pnginfo=info)
    return path


def read_png_metadata(path: Path) -> dict[str, str]:
    with Image.open(path) as image:
        image.load()
        return {str(k): str(v) for k, v in getattr(image, "text", {}).items()}
