"""A request's style references as its rows of a batch carry them (``generation.batched``).

Per request: the image tokens of its references' mean embedding, and a factor per adapter layer
(``style_ref_scale`` where its ``style_ref_mode``'s InstantStyle pattern has the layer, else 0).
A request without references (or at scale 0) has factor 0 everywhere: its rows pass the
adapter's layers as plain text attention, so its image is the one it would be alone, with no
adapter at all (docs/design.md, "Style references (IP-Adapter, InstantStyle)").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from generation.errors import InvalidGenerationRequest
from generation.ip_adapter import StyleAdapter
from generation.reference_unet import ReferenceUNet
from generation.settings import GenerationSettings
from generation.style_refs import StyleReferences


@dataclass(frozen=True)
class RowReferences:
    tokens: Tensor  # [1, T, C]
    factors: Tensor  # [layers]
    report: dict[str, Any]  # what the plan and the PNG say: adapter, scale, mode, images


def row_references(
    adapter: StyleAdapter | None, references: StyleReferences | None, settings: GenerationSettings
) -> RowReferences | None:
    """The request's tokens and factors; None when it uses no references."""
    if references is None:
        return None
    if adapter is None:
        raise InvalidGenerationRequest(
            "style references need an IP-Adapter: set TASTEMAKER_IP_ADAPTER (and its image "
            "encoder) for this model"
        )
    report = {
        "adapter": adapter.name,
        "scale": settings.style_ref_scale,
        "mode": str(settings.style_ref_mode),
        "origin": references.origin,
        "images": list(references.sources),
    }
    if settings.style_ref_scale == 0.0:
        return RowReferences(torch.zeros(0), torch.zeros(0), {**report, "applied": False})
    return RowReferences(
        adapter.tokens(references.embedding),
        adapter.factors(settings.style_ref_scale, settings.style_ref_mode),
        {**report, "applied": True},
    )


def stack_references(
    adapter: StyleAdapter | None, unet: Any, rows: list[RowReferences | None]
) -> ReferenceUNet | None:
    """The UNet wrapper carrying every row's tokens and factors; None when no row has any."""
    used = [r if r is not None and r.tokens.numel() else None for r in rows]
    first = next((r for r in used if r is not None), None)
    if adapter is None or first is None:
        return None
    blank_tokens = torch.zeros_like(first.tokens)
    blank_factors = torch.zeros_like(first.factors)
    tokens = torch.cat([r.tokens if r is not None else blank_tokens for r in used])
    factors = torch.stack([r.factors if r is not None else blank_factors for r in used])
    return adapter.wrap(unet, tokens, factors)
