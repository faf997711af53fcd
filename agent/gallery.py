"""The onboarding gallery: a folder of images plus ``manifest.json``.

Manifest format (version 1), documented here because people bring their own galleries::

    {
      "version": 1,
      "name": "my gallery",
      "images": [
        {
          "id": "deco-poster",                      # unique, [A-Za-z0-9_.-]
          "file": "deco-poster.png",                # relative to the manifest's folder
          "description": "an art deco poster in teal and gold",   # one honest line
          "tags": [{"text": "teal and gold palette", "category": "color"}, ...]
        }
      ]
    }

Tags name what is visible in the image, each under one attribute category (color, lighting,
composition, style, medium, texture, mood, detail, perspective, subject, other). The agent uses
them to pick images that teach something new, and the extractors use them to name the feature
when a comment is vague ("love the colors").
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.extraction import ImageContext, ImageTag
from preference_store.models import Category

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class GalleryImage(BaseModel):
    """One image of a gallery, as the manifest lists it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    file: str = Field(min_length=1, max_length=300)
    description: str = Field(min_length=1, max_length=300)
    tags: list[ImageTag] = Field(default_factory=list)

    def categories(self) -> set[Category]:
        return {t.category for t in self.tags}


class GalleryManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = MANIFEST_VERSION
    name: str = "gallery"
    images: list[GalleryImage] = Field(min_length=1)


class GalleryError(ValueError):
    """A gallery folder that cannot be used; the message says what to fix."""


class Gallery:
    """A loaded gallery: images by id, and the path of each file."""

    def __init__(self, root: Path, manifest: GalleryManifest) -> None:
        self.root = root
        self.manifest = manifest
        self._by_id = {image.id: image for image in manifest.images}
        if len(self._by_id) != len(manifest.images):
            raise GalleryError(f"{root / MANIFEST}: image ids must be unique")

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def images(self) -> list[GalleryImage]:
        return list(self.manifest.images)

    def __len__(self) -> int:
        return len(self.manifest.images)

    def get(self, image_id: str) -> GalleryImage:
        try:
            return self._by_id[image_id]
        except KeyError:
            raise GalleryError(f"no image {image_id!r} in gallery {self.name!r}") from None

    def find(self, image_id: str) -> GalleryImage | None:
        """The image, or None when this gallery has no such id (e.g. the gallery changed
        between a session's start and its resumption)."""
        return self._by_id.get(image_id)

    def path(self, image: GalleryImage) -> Path:
        return self.root / image.file

    def context(self, image_id: str) -> ImageContext:
        """What an extractor is told about the image."""
        image = self.get(image_id)
        return ImageContext(
            image_id=image.id,
            description=image.description,
            tags=list(image.tags),
            path=str(self.path(image)),
        )


def load_gallery(root: Path) -> Gallery:
    """Read and check a gallery folder: the manifest parses and every file exists."""
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise GalleryError(f"{root} has no {MANIFEST}; see agent/gallery.py for the format")
    try:
        manifest = GalleryManifest.model_validate_json(manifest_path.read_text(encoding="utf-8"))
    except ValidationError as error:
        raise GalleryError(f"{manifest_path} is not a valid manifest: {error}") from error
    if manifest.version != MANIFEST_VERSION:
        raise GalleryError(f"{manifest_path}: manifest version {manifest.version} is not supported")
    gallery = Gallery(root, manifest)
    missing = [image.file for image in manifest.images if not gallery.path(image).is_file()]
    if missing:
        raise GalleryError(f"{root}: image files missing: {', '.join(missing[:5])}")
    return gallery


def _replace_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write through a temporary file of this process's own, then rename it over ``path``: two
    processes rendering the same gallery at once never see (or leave) a half-written file."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as out:
            write(out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_image(image: Image.Image, path: Path) -> None:
    """Save a gallery image as PNG, atomically."""
    _replace_atomically(path, lambda out: image.save(out, format="PNG"))


def write_manifest(root: Path, manifest: GalleryManifest) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / MANIFEST
    text = json.dumps(manifest.model_dump(mode="json"), indent=2)
    _replace_atomically(path, lambda out: out.write(text.encode("utf-8")))
    return path
