"""Which LoRAs a request names, and at what weight: the part of LoRA support that loads no
model (docs/design.md, "LoRAs"), so the settings, the CLI's ``--help`` and the HTTP schema can
import it without torch.

A LoRA is named by its file's stem, as AUTOMATIC1111 names it: ``<lora:name:0.8>`` in a prompt,
``--lora FILE[:WEIGHT]`` on the command line (the file's stem becomes its name), ``{"name": ...,
"weight": ...}`` over HTTP. Names are looked up in one folder (``TASTEMAKER_LORA_DIR``), never
used as paths: the pattern refuses separators, ``..`` and anything else a path could hide in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from generation.errors import InvalidGenerationRequest

MAX_LORAS = 8
"""LoRAs one request may apply (each is a set of extra layers on every attention block)."""
MAX_LORA_WEIGHT = 4.0
"""Weights beyond ±4 only burn the image; A1111 users stay well inside ±2."""
LORA_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_ .+()\[\]-]{0,127}$"
"""A file stem: letters, digits and ``_ .+-()[]`` and spaces, no separator (and no ``..``:
``LoraWeight`` refuses it)."""
LORA_SUFFIX = ".safetensors"

# A1111's extra-network syntax: <lora:name>, <lora:name:weight>. What follows a second colon
# (A1111's separate text-encoder / UNet multipliers) is read so it can be refused by name.
_TAG = re.compile(r"<lora:([^:<>]*)(?::([^:<>]*))?(:[^<>]*)?>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]{2,}")


class LoraWeight(BaseModel):
    """One LoRA of a request: its name (a file stem) and the weight it is applied at."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=LORA_NAME_PATTERN,
        description="The LoRA file's name without .safetensors, as AUTOMATIC1111 names it.",
    )
    weight: float = Field(
        default=1.0,
        ge=-MAX_LORA_WEIGHT,
        le=MAX_LORA_WEIGHT,
        allow_inf_nan=False,
        description="How strongly it is applied (1: as trained; 0: not at all).",
    )

    @field_validator("name")
    @classmethod
    def _no_dots(cls, name: str) -> str:
        if ".." in name:
            raise ValueError("a LoRA name holds no '..'")
        return name

    def tag(self) -> str:
        """As A1111 writes it in a prompt: ``<lora:name:0.8>``."""
        return f"<lora:{self.name}:{self.weight:g}>"


def lora_weight(name: str, weight: float = 1.0) -> LoraWeight:
    """A checked ``LoraWeight``; a bad name or weight is one ``InvalidGenerationRequest``."""
    try:
        return LoraWeight(name=name, weight=weight)
    except ValidationError as error:
        what = error.errors()[0]
        if what["loc"] == ("name",):
            raise InvalidGenerationRequest(
                f"LoRA name {name!r} is not a file name this accepts (letters, digits, spaces "
                "and _ .+-()[]; no folders, no '..')"
            ) from None
        raise InvalidGenerationRequest(
            f"LoRA {name}: weight {weight} is out of range (-{MAX_LORA_WEIGHT:g} to "
            f"{MAX_LORA_WEIGHT:g})"
        ) from None


def take_prompt_loras(prompt: str) -> tuple[str, list[LoraWeight]]:
    """The prompt without its ``<lora:name:weight>`` tags, and the LoRAs they name (A1111
    removes them from the text the encoder reads too)."""
    found: list[LoraWeight] = []

    def take(match: re.Match[str]) -> str:
        name, weight, extra = match.group(1).strip(), match.group(2), match.group(3)
        if extra:
            raise InvalidGenerationRequest(
                f"{match.group(0)}: tastemaker takes one weight per LoRA "
                f"(<lora:{name}:WEIGHT>), not separate text-encoder and UNet weights"
            )
        try:
            value = float(weight) if weight is not None and weight.strip() else 1.0
        except ValueError:
            raise InvalidGenerationRequest(
                f"{match.group(0)}: the weight must be a number, as in <lora:{name}:0.8>"
            ) from None
        found.append(lora_weight(name, value))
        return ""

    text = _TAG.sub(take, prompt)
    if not found:
        return prompt, []
    cleaned = "\n".join(_SPACES.sub(" ", line).strip(" \t,") for line in text.split("\n"))
    return cleaned.strip(), found


def merge_loras(*groups: Iterable[LoraWeight]) -> tuple[LoraWeight, ...]:
    """The LoRAs of several sources (flags, then prompt tags), in order, each name once; the
    same name at two weights is refused rather than guessed."""
    merged: dict[str, LoraWeight] = {}
    for group in groups:
        for lora in group:
            seen = merged.get(lora.name)
            if seen is not None and seen.weight != lora.weight:
                raise InvalidGenerationRequest(
                    f"LoRA {lora.name} is named twice, at {seen.weight:g} and {lora.weight:g}: "
                    "name it once"
                )
            merged[lora.name] = lora
    if len(merged) > MAX_LORAS:
        raise InvalidGenerationRequest(f"at most {MAX_LORAS} LoRAs per generation")
    return tuple(merged.values())


def unique_names(loras: tuple[LoraWeight, ...]) -> tuple[LoraWeight, ...]:
    """Settings validator: each LoRA once (a second entry would be applied twice)."""
    names = [lora.name for lora in loras]
    if len(set(names)) != len(names):
        raise ValueError("each LoRA may be named once")
    return loras


def with_prompt_loras(data: object) -> object:
    """A request's raw fields with the prompt's ``<lora:…>`` tags moved into its settings'
    ``loras`` (after any named there), so every way in — CLI, HTTP, a PNG's prompt — batches
    and records them the same (``GenerationRequest``'s first validator)."""
    if not isinstance(data, dict) or not isinstance(data.get("prompt"), str):
        return data
    prompt, found = take_prompt_loras(data["prompt"])
    if not found:
        return data
    settings = data.get("settings")
    if hasattr(settings, "updated"):  # a GenerationSettings (which imports this module)
        merged = merge_loras(settings.loras, found)  # type: ignore[union-attr]
        return {**data, "prompt": prompt, "settings": settings.updated(loras=merged)}  # type: ignore[union-attr]
    given = dict(settings) if isinstance(settings, dict) else {}
    named = [LoraWeight.model_validate(x) for x in given.get("loras") or ()]
    return {**data, "prompt": prompt, "settings": {**given, "loras": merge_loras(named, found)}}
