"""What a blend asks for (docs/design.md, "Blending"): the profiles and their weights, read
and checked before any model loads (``generation.blend`` does the mixing)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from generation.errors import InvalidGenerationRequest
from preference_store.models import OWNER_ID_PATTERN

MAX_BLEND_PROFILES = 8


class BlendPart(BaseModel):
    """One profile of a blend: its name (for the plan), owner key (for the stores), weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=32)
    owner: str = Field(pattern=OWNER_ID_PATTERN)
    weight: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)


def blend_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """The weights normalised to sum 1 (profiles at 0 left out); InvalidGenerationRequest for a
    negative or non-finite weight, too many profiles, or all zero."""
    if not weights:
        raise InvalidGenerationRequest("a blend names at least one profile, e.g. default:0.7")
    if len(weights) > MAX_BLEND_PROFILES:
        raise InvalidGenerationRequest(f"a blend mixes at most {MAX_BLEND_PROFILES} profiles")
    for name, weight in weights.items():
        if not math.isfinite(weight) or weight < 0:
            raise InvalidGenerationRequest(
                f"blend weights are numbers of 0 or more; {name!r} has {weight}"
            )
    total = sum(weights.values())
    if total <= 0:
        raise InvalidGenerationRequest(
            "blend weights are all zero: give at least one profile a weight above 0"
        )
    return {name: weight / total for name, weight in weights.items() if weight > 0}


def parse_blend(text: str) -> dict[str, float]:
    """``default:0.7,zines:0.3`` → {name: weight} (not normalised); InvalidGenerationRequest
    names what is wrong."""
    weights: dict[str, float] = {}
    for item in text.split(","):
        name, sep, number = item.strip().partition(":")
        try:
            weight = float(number) if sep else math.nan
        except ValueError:
            weight = math.nan
        if not name or math.isnan(weight):
            raise InvalidGenerationRequest(
                f"--blend takes NAME:WEIGHT pairs joined by commas, e.g. default:0.7,zines:0.3; "
                f"{item.strip()!r} is not one"
            )
        if name in weights:
            raise InvalidGenerationRequest(f"--blend names {name!r} twice")
        weights[name] = weight
    return weights
