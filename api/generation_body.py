"""The ``POST /v1/generations`` body that makes a queued request again: what the page's history
re-rolls, varies and compares (docs/design.md, "The service"). The settings are flat beside the
prompt, named as the body names them (``generation.options``), so the body is the inverse of
``create_generation``'s reading of one."""

from __future__ import annotations

from typing import Any

from generation.options import OPTIONS, RequestMode
from generation.request import GenerationRequest


def body_of(request: GenerationRequest) -> dict[str, Any]:
    """The body for ``request``: its prompt, mode and every offered setting it was given with."""
    settings = request.settings.model_dump(mode="json")
    mode = RequestMode.PALP if request.palp is not None else RequestMode(settings["mode"])
    body: dict[str, Any] = {
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "mode": mode.value,
        "include_plain": request.include_plain,
    }
    palp = request.palp.model_dump() if request.palp is not None else {}
    for option in OPTIONS:
        value = palp.get(option.field) if option.palp else settings.get(option.field)
        if value is not None:
            body[option.name] = value
    extra = {
        "candidates": request.candidates,
        "style_ref_ids": request.style_ref_ids or None,
        "init_image": request.init_image,
        "loras": settings.get("loras") or None,  # a field of its own, not a flat option
        "blend": {part.name: part.weight for part in request.blend} if request.blend else None,
    }
    return body | {name: value for name, value in extra.items() if value is not None}
