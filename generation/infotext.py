"""A generation request read back from a PNG: tastemaker's own chunks (everything needed to
make the same pixels again) or the ``parameters`` text AUTOMATIC1111 writes (prompt, negative
prompt, steps, sampler, CFG scale, seed, size). docs/design.md, "Images that reproduce".

Only the text chunks before the pixel data are read (where PIL, A1111 and tastemaker put them):
the image itself is never decoded, and a file that is not a readable PNG, or whose chunks are
not what they claim, is refused with one line that says why.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError

from generation.errors import GenerationError
from generation.lora_infotext import LORA_HASHES_FIELD, parse_lora_hashes, recorded_hashes
from generation.model_identity import MAX_TORCH_THREADS, TORCH_THREADS_CHUNK
from generation.options import OPTIONS
from generation.png import INIT_IMAGE_CHUNK, PARAMETERS_KEY, PROMPT_CHUNK
from generation.request import PalpRequest
from generation.samplers import find_sampler, sampler_names
from generation.settings import GenerationSettings

# A1111's infotext grammar (modules/infotext_utils.py): `Key: value` pairs, a value either
# plain up to the next comma or a JSON string; the last line holds them when it has 3 or more.
_PARAM = re.compile(r'\s*(\w[\w \-/φ]*):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_SIZE = re.compile(r"^(\d+)x(\d+)$")
_NEGATIVE = "Negative prompt:"
BLEND_CHUNK = "tastemaker:blend"
BLEND_NOTE = (
    "made from a blend of profiles, which pins no version: each profile is used as it is now"
)


class UnreadablePng(GenerationError):
    """The file holds no generation request that can be read."""


@dataclass
class PngRecipe:
    """What a PNG says about how it was made, as generation options (``generation.options``
    names) ready for flags to be laid over."""

    made_by: str  # "tastemaker" or "AUTOMATIC1111"
    prompt: str
    negative_prompt: str = ""
    options: dict[str, object] = field(default_factory=dict)
    mode: str | None = None
    model: str | None = None  # a name tastemaker can load (its own PNGs only)
    model_hash: str = ""
    profile_version: int | None = None
    image_index: int | None = None  # which of the request's images the PNG is
    unknown_sampler: str = ""  # A1111's sampler when tastemaker has no such sampler
    init_image: str | None = None  # img2img: the reference id of its init image (tastemaker's)
    notes: list[str] = field(default_factory=list)
    lora_hashes: dict[str, str] = field(default_factory=dict)  # name → A1111 short hash
    torch_threads: int | None = None  # the CPU threads it was made with (tastemaker's)
    blend: str | None = None  # a blend's profiles and weights, as --blend takes them


def read_recipe(path: Path) -> PngRecipe:
    chunks = png_text(path)
    if PROMPT_CHUNK in chunks:
        return _tastemaker(chunks, path)
    if PARAMETERS_KEY in chunks:
        return a1111_recipe(chunks[PARAMETERS_KEY], path)
    raise UnreadablePng(
        f"{path} has no generation parameters (neither tastemaker's chunks nor A1111's "
        "'parameters' text)"
    )


def png_text(path: Path) -> dict[str, str]:
    """The PNG's text chunks, without decoding the image."""
    try:
        with Image.open(path) as image:
            if image.format != "PNG":
                raise UnreadablePng(f"{path} is a {image.format} image, not a PNG")
            info = dict(image.info)
    except UnreadablePng:
        raise
    except FileNotFoundError:
        raise UnreadablePng(f"{path} does not exist") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UnreadablePng(f"{path} is not a readable PNG: {reason}") from None
    return {str(k): str(v) for k, v in info.items() if isinstance(v, str)}


def _tastemaker(chunks: dict[str, str], path: Path) -> PngRecipe:
    try:
        settings = json.loads(chunks.get("tastemaker:settings") or "{}")
        if not isinstance(settings, dict):
            raise ValueError("settings are not an object")
        index = int(chunks.get("tastemaker:image_index") or 0)
        seed = int(chunks["tastemaker:seed"]) - index
        version = chunks.get("tastemaker:profile_version")
        profile_version = int(version) if version else None
        threads = int(chunks.get(TORCH_THREADS_CHUNK) or 0)
        blend = _blend(chunks.get(BLEND_CHUNK))
    except (ValueError, KeyError) as error:
        raise UnreadablePng(f"{path}: tastemaker's chunks are damaged ({error})") from None
    mode = settings.pop("mode", None)
    settings.pop("seed", None)
    palp = _palp_options(chunks.get("tastemaker:palp"), path)
    # Image i of a request was made with seed + i in one batch of the request's images: the
    # whole request is made again (a batch of another size may differ in the last bit).
    if "tastemaker:image_index" not in chunks:
        settings["num_images"] = 1
    options = {**settings, "seed": seed}
    _check(options, mode, path)
    return PngRecipe(
        made_by="tastemaker",
        prompt=chunks[PROMPT_CHUNK],
        negative_prompt=chunks.get("tastemaker:negative_prompt", ""),
        options={**options, **palp},
        mode="palp" if palp else str(mode) if mode is not None else None,
        model=chunks.get("tastemaker:model") or None,
        model_hash=chunks.get("tastemaker:model_hash", ""),
        profile_version=profile_version,
        image_index=index,
        init_image=chunks.get(INIT_IMAGE_CHUNK) or None,
        lora_hashes=recorded_hashes(chunks),
        torch_threads=threads if 0 < threads <= MAX_TORCH_THREADS else None,
        blend=blend,
        notes=[BLEND_NOTE] if blend else [],
    )


def _blend(text: str | None) -> str | None:
    """The blend chunk (JSON name → weight) as ``--blend`` text; ValueError when damaged."""
    if not text:
        return None
    weights = json.loads(text)
    if not isinstance(weights, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) for k, v in weights.items()
    ):
        raise ValueError("the blend is not profile names with weights")
    return ",".join(f"{name}:{weight!r}" for name, weight in weights.items())


def parse_parameters(text: str) -> tuple[str, str, dict[str, str]]:
    """A1111's ``parameters`` text as (prompt, negative prompt, fields), read as A1111 does."""
    *lines, last = text.strip().split("\n")
    if len(_PARAM.findall(last)) < 3:
        lines.append(last)
        last = ""
    prompt: list[str] = []
    negative: list[str] = []
    for line in lines:
        line = line.strip()
        if line.startswith(_NEGATIVE) or negative:
            negative.append(line.removeprefix(_NEGATIVE).strip())
        else:
            prompt.append(line)
    fields: dict[str, str] = {}
    for key, value in _PARAM.findall(last):
        if len(value) > 1 and value[0] == value[-1] == '"':
            with contextlib.suppress(ValueError):
                value = str(json.loads(value))
        fields[key.strip()] = value.strip()
    return "\n".join(prompt), "\n".join(negative), fields


def a1111_recipe(text: str, path: Path) -> PngRecipe:
    prompt, negative, fields = parse_parameters(text)
    options: dict[str, object] = {}
    recipe = PngRecipe(made_by="AUTOMATIC1111", prompt=prompt, negative_prompt=negative)
    try:
        if "Steps" in fields:
            options["steps"] = int(fields["Steps"])
        if "CFG scale" in fields:
            options["guidance_scale"] = float(fields["CFG scale"])
        if "CFG Rescale φ" in fields:
            options["cfg_rescale"] = float(fields["CFG Rescale φ"])
        if "Seed" in fields:
            options["seed"] = int(fields["Seed"])
        if "Denoising strength" in fields and "Hires upscale" not in fields:  # img2img
            options["strength"] = float(fields["Denoising strength"])
        size = _SIZE.match(fields.get("Size", ""))
        if size:
            options["width"], options["height"] = int(size.group(1)), int(size.group(2))
    except ValueError as error:
        raise UnreadablePng(f"{path}: A1111 parameters hold a bad number ({error})") from None
    if "Sampler" in fields:
        sampler = find_sampler(fields["Sampler"], fields.get("Schedule type"))
        if sampler is None:
            schedule = fields.get("Schedule type", "")
            recipe.unknown_sampler = f"{fields['Sampler']} {schedule}".strip()
        else:
            options["sampler"] = sampler.value
    recipe.model_hash = fields.get("Model hash", "")
    recipe.lora_hashes = parse_lora_hashes(fields.get(LORA_HASHES_FIELD, ""))
    if "Model" in fields:
        recipe.notes.append(
            f"made with model {fields['Model']!r} (hash {recipe.model_hash or '-'}): the model "
            "tastemaker loads is used; --model picks another"
        )
    recipe.options = options
    return recipe


def _palp_options(chunk: str | None, path: Path) -> dict[str, object]:
    """A PALP image's training options (``tastemaker:palp``) as the ``palp_*`` options that
    ``generate`` takes; checked like every other value read from the file."""
    if chunk is None:
        return {}
    try:
        palp = PalpRequest.model_validate_json(chunk)
    except ValidationError as error:
        reason = error.errors()[0]["msg"] if error.errors() else "not valid"
        raise UnreadablePng(f"{path}: its PALP options are damaged ({reason})") from None
    return {o.name: getattr(palp, o.field) for o in OPTIONS if o.palp}


def _check(options: dict[str, object], mode: object, path: Path) -> None:
    """A damaged or hostile chunk is refused here, before anything loads."""
    try:
        GenerationSettings.checked(**options, **({"mode": mode} if mode is not None else {}))
    except GenerationError as error:
        raise UnreadablePng(f"{path}: {error}") from None


def unknown_sampler_message(recipe: PngRecipe, path: Path) -> str:
    return (
        f"{path} was made with sampler {recipe.unknown_sampler!r}, which tastemaker does not "
        f"offer: pass --sampler with one of {sampler_names()}"
    )
