"""The image files a person typed (files, folders, globs), opened with what is wrong in words.

A shell expands ``*.png`` itself, but a quoted pattern, a Windows shell or a folder reaches us
as one word; each becomes the files it names, in a stable order, each once. A word that names
nothing is kept, so the check that opens it can say "file not found" about it.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})


def expand_images(typed: Sequence[Path]) -> list[Path]:
    """The files ``typed`` names, in order, each once."""
    files: list[Path] = []
    for path in typed:
        word = str(path.expanduser())
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
        elif not path.exists() and glob.has_magic(word):
            found = [Path(m) for m in sorted(glob.glob(word)) if Path(m).is_file()]
        else:
            found = []
        files += found or [path]
    return list(dict.fromkeys(files))


def open_images(
    paths: Sequence[Path], *, max_pixels: int
) -> tuple[list[tuple[Path, Image.Image]], list[str]]:
    """Each readable file as RGB, and for each other one ``"PATH: why"`` in words."""
    from generation.reaction_images import ImageTooLarge, describe_unreadable, open_image_file

    opened, problems = [], []
    for path in paths:
        try:
            opened.append((path, open_image_file(str(path), max_pixels=max_pixels)))
        except ImageTooLarge as error:  # names the file and its size already
            problems.append(str(error))
        except OSError as error:
            problems.append(f"{path}: {describe_unreadable(error)}")
    return opened, problems
