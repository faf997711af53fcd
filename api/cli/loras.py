"""``tastemaker generate --lora FILE[:WEIGHT]``: LoRA files named on the command line, and the
check that every LoRA a request names (flags, ``<lora:…>`` in the prompt, a PNG's settings) is
there before any model loads (docs/design.md, "LoRAs")."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from generation.lora_files import LoraFileError, LoraLibrary, lora_files
from generation.lora_infotext import describe_differences
from generation.lora_names import LORA_SUFFIX, LoraWeight, lora_weight

if TYPE_CHECKING:
    from api.settings import Settings
    from generation.settings import GenerationSettings

LoraOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--lora",
        metavar="FILE[:WEIGHT]",
        help="Apply a LoRA .safetensors file (kohya/A1111 or diffusers), weight 1 unless given; "
        "repeatable. <lora:name:0.8> in the prompt finds NAME.safetensors in "
        "TASTEMAKER_LORA_DIR.",
    ),
]


def parse_lora_flags(flags: list[str] | None) -> tuple[dict[str, Path], list[LoraWeight]]:
    """``FILE[:WEIGHT]`` flags as files by name (the file's stem) and the weights to apply;
    ``LoraFileError`` (or ``InvalidGenerationRequest``) with one sentence when one is wrong."""
    files: dict[str, Path] = {}
    weights: list[LoraWeight] = []
    for flag in flags or []:
        path, weight = _split(flag)
        if path.suffix.lower() != LORA_SUFFIX:
            raise LoraFileError(
                f"--lora {flag}: LoRAs are .safetensors files (pickled .pt/.ckpt files are never "
                "loaded: they can run code)"
            )
        if not path.is_file():
            raise LoraFileError(f"--lora {flag}: {path} is not a file")
        lora = lora_weight(path.stem, weight)
        if lora.name in files and files[lora.name].resolve() != path.resolve():
            raise LoraFileError(f"--lora: two files are named {lora.name}; rename one")
        files[lora.name] = path
        weights.append(lora)
    return files, weights


def lora_flags(flags: list[str] | None, options: dict[str, object]) -> dict[str, Path]:
    """``parse_lora_flags``, with the weights set as the ``loras`` option when flags were
    typed (they replace a PNG's LoRAs, as every typed flag wins over the PNG)."""
    files, weights = parse_lora_flags(flags)
    if flags:
        options["loras"] = weights
    return files


def _split(flag: str) -> tuple[Path, float]:
    """``FILE:0.8`` → (FILE, 0.8); a colon not followed by a number is part of the path."""
    head, colon, tail = flag.rpartition(":")
    if colon and head:
        try:
            return Path(head).expanduser(), float(tail)
        except ValueError:
            pass
    return Path(flag).expanduser(), 1.0


def checked_library(
    settings: Settings,
    files: dict[str, Path],
    wanted: GenerationSettings,
    recorded: dict[str, str] | None = None,
) -> tuple[LoraLibrary, list[str]]:
    """The library the request's LoRAs come from, every one of them found and checked, and
    notes for files that differ from those a PNG recorded (``recorded``: name → hash)."""
    library = settings.lora_library(files)
    try:
        found = lora_files(library, wanted)
    except LoraFileError as error:
        if recorded:
            made_with = ", ".join(f"{name} (hash {digest})" for name, digest in recorded.items())
            raise LoraFileError(
                f"{error}; the image was made with LoRA {made_with}: put the file in "
                "TASTEMAKER_LORA_DIR or pass --lora FILE"
            ) from None
        raise
    return library, describe_differences(recorded or {}, found)
