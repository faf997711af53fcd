"""``generate --init-image FILE`` (img2img): the file read and checked before any model loads,
and what ``--from-png`` needs of it (docs/design.md, "img2img")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from generation.reference_ids import MAX_REFERENCE_BYTES, content_id

InitImageOpt = Annotated[
    Path | None,
    typer.Option(
        "--init-image",
        metavar="FILE",
        help="img2img: start from this image (PNG, JPEG or WebP), resized to the generation "
        "size; --strength says how much of it is redrawn.",
    ),
]


@dataclass(frozen=True)
class InitImage:
    data: bytes
    id: str  # the id an upload of the same bytes gets; the PNG records it


def read_init_image(path: Path | None) -> InitImage | None:
    """The file's bytes after the checks an upload gets (size, format, header size, decoding);
    ``ValueError`` with a one-line reason otherwise."""
    if path is None:
        return None
    from generation.errors import InvalidGenerationRequest
    from generation.reaction_images import describe_unreadable
    from generation.reference_files import check_reference_image

    try:
        size = path.stat().st_size
        if size > MAX_REFERENCE_BYTES:
            raise ValueError(
                f"{path}: {size:,} bytes; an init image is at most {MAX_REFERENCE_BYTES:,}"
            )
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"--init-image {path}: {describe_unreadable(error)}") from None
    try:
        check_reference_image(data)
    except InvalidGenerationRequest as error:
        message = str(error).replace("the upload", "it")
        raise ValueError(f"--init-image {path}: {message}") from None
    return InitImage(data, content_id(data))


def init_image_option(
    path: Path | None, strength: object, png: Path | None, made_from: str | None
) -> tuple[InitImage | None, list[str]]:
    """``--init-image`` read, with ``--strength`` and ``--from-png`` checked against it."""
    init = read_init_image(path)
    if png is not None:
        return init, png_init_notes(png, strength, made_from, init)
    if strength is not None and init is None:
        raise ValueError("--strength is how much of an init image is redrawn: give --init-image")
    return init, []


def png_init_notes(
    png: Path, strength: object, made_from: str | None, given: InitImage | None
) -> list[str]:
    """What ``--from-png`` says about the init image: a PNG made by img2img cannot be made
    again without it (``ValueError``); a different file is allowed, with a note."""
    if strength is None:
        return []
    if given is None:
        named = f" (reference {made_from})" if made_from else ""
        raise ValueError(
            f"{png} was made from an init image{named} at strength {strength}: give it again "
            "with --init-image FILE"
        )
    if made_from and given.id != made_from:
        return [
            f"--init-image is not the image {png.name} was made from (reference {made_from}): "
            "the pixels will differ"
        ]
    return []
