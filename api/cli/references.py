"""``generate``'s style-reference options: the ``--ref`` files read (and refused in one line
before any model loads), and what the output says about the references used."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

RefOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--ref",
        help="Style reference image(s) for this request only: files, folders or globs "
        "(instead of the liked images).",
    ),
]
NoStyleRefOpt = Annotated[
    bool, typer.Option("--no-style-ref", help="No style references (the same as scale 0).")
]


def style_ref_options(
    ref: list[Path] | None, no_style_ref: bool, options: dict[str, Any]
) -> list[tuple[str, bytes]]:
    """The --ref files read; --no-style-ref sets the scale option to 0."""
    if no_style_ref:
        if ref:
            raise ValueError("--ref and --no-style-ref contradict each other: give one")
        options["style_ref_scale"] = 0.0
    return read_references(ref or [])


def read_references(typed: list[Path]) -> list[tuple[str, bytes]]:
    """The --ref files as (name, bytes); ``ValueError`` with a one-line reason otherwise."""
    from api.cli.image_files import expand_images
    from generation.reference_ids import MAX_REFERENCE_BYTES, MAX_REQUEST_REFERENCES

    files = expand_images(typed)
    if len(files) > MAX_REQUEST_REFERENCES:
        raise ValueError(
            f"--ref names {len(files)} images; at most {MAX_REQUEST_REFERENCES} per request"
        )
    found = []
    for path in files:
        try:
            size = path.stat().st_size
            if size > MAX_REFERENCE_BYTES:
                raise ValueError(
                    f"{path}: {size:,} bytes; a reference is at most {MAX_REFERENCE_BYTES:,}"
                )
            found.append((path.name, path.read_bytes()))
        except OSError as error:
            from generation.reaction_images import describe_unreadable

            raise ValueError(f"{path}: {describe_unreadable(error)}") from None
    return found


def describe_references(refs: dict[str, Any] | None) -> str:
    """Which references steered the image, at which scale and mode (or why none did)."""
    if not refs:
        return "-"
    images = ", ".join(refs["images"])
    if not refs["applied"]:
        return f"off (scale 0); would use {refs['origin']} images {images}"
    return (
        f"{refs['origin']} images {images}  [{refs['adapter']}, scale {refs['scale']:g}, "
        f"mode {refs['mode']}]"
    )
