"""Style references inside one denoising batch: each row its own image tokens and its own scale.

diffusers' IP-Adapter keeps one scale per attention layer on the shared UNet
(``set_ip_adapter_scale``) and, once loaded, wants image embeddings on every UNet call. Neither
fits a UNet shared by every request, batches of several people and other callers (style-token
training, PALP) that never pass images. So, after ``load_ip_adapter`` (docs/design.md, "Style
references (IP-Adapter, InstantStyle)"):

- each cross-attention processor is diffusers' ``IPAdapterAttnProcessor2_0`` with its loaded
  weights, routed: without image tokens, or with every row's factor 0 for its layer, it runs the
  plain ``AttnProcessor2_0`` on the text alone (the image without references, exactly);
- its ``scale`` is a ``RowScale``: ``scale * ip_attention`` multiplies each row by that row's
  factor for the layer (``style_ref_scale`` × the InstantStyle pattern of the row's mode), read
  from a context variable the ``ReferenceUNet`` wrapper sets for the duration of one UNet call;
- the image projection (``encoder_hid_proj``) is taken off the UNet and applied once per request,
  and ``ReferenceUNet`` hands the UNet ``(text, [image tokens])`` as diffusers itself does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch
from diffusers.models.attention_processor import AttnProcessor2_0, IPAdapterAttnProcessor2_0
from torch import Tensor

_ROW_FACTORS: ContextVar[dict[str, Tensor] | None] = ContextVar("row_factors", default=None)


class RowScale:
    """Stands where diffusers' processor reads its float scale: equal to 0 when every row's
    factor is 0 (diffusers then skips the adapter), and multiplying each row by its own."""

    def __init__(self, layer: str) -> None:
        self.layer = layer

    def factors(self) -> Tensor | None:
        found = _ROW_FACTORS.get()
        return None if found is None else found.get(self.layer)

    def __eq__(self, other: object) -> bool:
        factors = self.factors()
        return other == 0 and (factors is None or not bool(factors.any()))

    __hash__ = None  # type: ignore[assignment]

    def __mul__(self, value: Tensor) -> Tensor:
        factors = self.factors()
        if factors is None:
            return value * 0.0
        return value * factors.to(value).view(-1, *([1] * (value.ndim - 1)))

    __rmul__ = __mul__


class RoutedIPAdapterProcessor(IPAdapterAttnProcessor2_0):
    """diffusers' IP-Adapter processor that serves plain text calls with the plain processor."""

    def __init__(self, loaded: IPAdapterAttnProcessor2_0, layer: str) -> None:
        super().__init__(loaded.hidden_size, loaded.cross_attention_dim, loaded.num_tokens)
        self.load_state_dict(loaded.state_dict())
        weight: Any = loaded.to_k_ip[0].weight
        self.to(weight)
        self.layer = layer
        self.scale: list[Any] = [RowScale(layer)]
        self.plain = AttnProcessor2_0()

    def __call__(
        self,
        attn: Any,
        hidden_states: Tensor,
        encoder_hidden_states: Any = None,
        attention_mask: Tensor | None = None,
        temb: Tensor | None = None,
        scale: float = 1.0,
        ip_adapter_masks: Tensor | None = None,
    ) -> Tensor:
        if isinstance(encoder_hidden_states, tuple):
            if self.scale[0] == 0:  # no row asks for references in this layer
                encoder_hidden_states = encoder_hidden_states[0]
            else:
                call: Any = super().__call__
                return call(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        return self.plain(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


@contextmanager
def row_factors(factors: dict[str, Tensor]) -> Iterator[None]:
    token = _ROW_FACTORS.set(factors)
    try:
        yield
    finally:
        _ROW_FACTORS.reset(token)


class ReferenceUNet(torch.nn.Module):
    """Wraps a UNet so each call carries the batch's image tokens and per-row layer factors.

    ``tokens`` [rows, T, C]: each row's projected reference embedding; ``empty`` [1, T, C]: the
    projection of a zero embedding, diffusers' unconditional image input; ``factors``
    [rows, layers]. A call's batch is k × rows: under classifier-free guidance its chunks
    alternate unconditional / conditional (k = 2, or 4 inside ViPer's guidance wrapper).
    """

    def __init__(
        self,
        unet: torch.nn.Module,
        *,
        tokens: Tensor,
        empty: Tensor,
        factors: Tensor,
        layers: list[str],
    ) -> None:
        super().__init__()
        self.unet = unet
        self.tokens = tokens
        self.empty = empty
        self.factors = factors
        self.layers = layers

    def __getattr__(self, name: str) -> Any:
        """Everything the pipeline reads (config, dtype, add_embedding, ...) is the UNet's."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["unet"], name)

    def keep(self, index: Tensor) -> None:
        """Only rows ``index`` go on (the others' requests were cancelled)."""
        self.tokens = self.tokens[index]
        self.factors = self.factors[index]

    def forward(
        self,
        sample: Tensor,
        timestep: Any,
        encoder_hidden_states: Tensor,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        rows = self.tokens.shape[0]
        chunks = sample.shape[0] // rows
        empty = self.empty.expand(rows, -1, -1)
        if chunks == 1:
            images = self.tokens
        else:
            images = torch.cat([empty if c % 2 == 0 else self.tokens for c in range(chunks)])
        factors = self.factors.repeat(chunks, 1)
        by_layer = {layer: factors[:, j] for j, layer in enumerate(self.layers)}
        states = (encoder_hidden_states, [images.to(encoder_hidden_states)])
        with row_factors(by_layer):
            return self.unet(sample, timestep, states, *args, **kwargs)
