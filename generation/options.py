"""The flat options of a generation request: what ``tastemaker generate``'s flags and the HTTP
body's fields are.

They are read off the declarations (``GenerationSettings``, ``PalpRequest``), so a setting
declared there is offered everywhere with its default, bounds and help, and no caller restates
them. PALP's options carry a ``palp_`` prefix (``--palp-steps``, ``palp_lr``).
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Union, get_args, get_origin

from pydantic.fields import FieldInfo

from generation.request import PalpRequest
from generation.settings import NOT_OFFERED, ConditioningMode, GenerationSettings


class RequestMode(StrEnum):
    """The generator's conditioning modes, plus PALP: embeds conditioning with an adapter
    trained for the prompt first. The one place PALP maps to its conditioning."""

    EMBEDS = ConditioningMode.EMBEDS.value
    GUIDANCE = ConditioningMode.GUIDANCE.value
    PALP = "palp"

    @property
    def conditioning(self) -> ConditioningMode:
        return ConditioningMode.EMBEDS if self is RequestMode.PALP else ConditioningMode(self)


MODE_HELP = (
    "embeds: free; guidance: an extra UNet pass (~1.4–1.7×); palp: an adapter is trained for "
    "this prompt first (PALP; ~500 steps of ~6 UNet passes each: minutes on a GPU), cached per "
    "prompt and profile version."
)

PALP_PREFIX = "palp_"
OWN_FIELDS = frozenset({"loras"})
"""Settings offered as a field of their own, not one flat option: ``loras`` is a list (the
CLI's repeatable ``--lora FILE[:WEIGHT]``, the HTTP body's ``"loras"``); ``settings_from``
takes them by their own name."""
PALP_SHORT_NAMES = {"learning_rate": "lr"}


@dataclass(frozen=True)
class Option:
    """One offered setting: its flat name, the field it sets, and that field's declaration."""

    name: str
    field: str
    palp: bool
    info: FieldInfo

    @property
    def value_type(self) -> Any:
        """The declared type without ``None`` (``width``: the ``Side`` type, bounds and all)."""
        annotation = self.info.annotation
        if get_origin(annotation) in (Union, types.UnionType):
            (annotation,) = [arg for arg in get_args(annotation) if arg is not type(None)]
        return annotation

    @property
    def optional(self) -> bool:
        return self.value_type is not self.info.annotation


def _options() -> tuple[Option, ...]:
    settings = [
        Option(name, name, False, info)
        for name, info in GenerationSettings.model_fields.items()
        if name not in NOT_OFFERED | OWN_FIELDS and name != "mode"  # mode: a ``RequestMode``
    ]
    palp = [
        Option(PALP_PREFIX + PALP_SHORT_NAMES.get(name, name), name, True, info)
        for name, info in PalpRequest.model_fields.items()
    ]
    return (*settings, *palp)


OPTIONS = _options()


def settings_from(given: Mapping[str, object], mode: RequestMode) -> GenerationSettings:
    """Checked settings from the options given (``None`` or absent: the declared default)."""
    values = {
        o.field: given[o.name] for o in OPTIONS if not o.palp and given.get(o.name) is not None
    }
    values |= {name: given[name] for name in OWN_FIELDS if given.get(name) is not None}
    return GenerationSettings.checked(**values, mode=mode.conditioning)


def palp_from(given: Mapping[str, object], mode: RequestMode) -> PalpRequest | None:
    """The PALP options when ``mode`` is palp (defaults for those not given); pydantic's
    ``ValidationError`` when they are out of bounds."""
    if mode is not RequestMode.PALP:
        return None
    values = {o.field: given[o.name] for o in OPTIONS if o.palp and given.get(o.name) is not None}
    return PalpRequest.model_validate(values)
