"""ViPer's stronger ``guidance`` mode: one extra UNet pass per step on [E(VP−), E(VP+)].

``ε = ε_u + w·(ε_t + a·ε_vp+ − ε_u − b·ε_vp−)``. The pipeline already computes
``ε_u + w·(ε_t − ε_u)`` from the two halves of its batch, so a thin UNet wrapper runs the batch of
four (uncond, text, VP−, VP+) in one call and hands back ``[ε_u, ε_t + a·ε_vp+ − b·ε_vp−]``.
Cost: the UNet batch doubles (2 → 4 per image); ``bench/generation.py`` measured denoising at
about 1.4–1.7× the time of the plain or ``embeds`` modes.

The wrapper is used through a per-request pipeline view (``from_pipe``, which shares every
component), so the shared pipeline is never modified.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class ViPerGuidedUNet(torch.nn.Module):
    """Wraps a UNet so each CFG call also evaluates the VP− and VP+ conditionings."""

    def __init__(
        self,
        unet: torch.nn.Module,
        *,
        vp_negative: Tensor,
        vp_positive: Tensor,
        a: float,
        b: float,
    ) -> None:
        super().__init__()
        self.unet = unet
        self.vp_negative = vp_negative
        self.vp_positive = vp_positive
        self.a = a
        self.b = b
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        """Everything the pipeline reads (config, dtype, add_embedding, ...) is the UNet's."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["unet"], name)

    def forward(
        self,
        sample: Tensor,
        timestep: Tensor | float | int,
        encoder_hidden_states: Tensor,
        *args: Any,
        added_cond_kwargs: dict[str, Tensor] | None = None,
        return_dict: bool = True,
        **kwargs: Any,
    ) -> Any:
        if sample.shape[0] % 2:
            raise ValueError("guidance mode needs classifier-free guidance (guidance scale > 1)")
        self.calls += 1
        half = sample.shape[0] // 2
        vp = torch.cat(
            [
                self.vp_negative.to(encoder_hidden_states).expand(half, -1, -1),
                self.vp_positive.to(encoder_hidden_states).expand(half, -1, -1),
            ]
        )
        states = torch.cat([encoder_hidden_states, vp])
        if isinstance(timestep, Tensor) and timestep.ndim > 0 and timestep.numel() > 1:
            timestep = torch.cat([timestep, timestep])
        extra: dict[str, Tensor] | None = None
        if added_cond_kwargs is not None:
            # [neg, pos] pooled/time ids, repeated: VP− pairs with neg, VP+ with pos.
            extra = {k: torch.cat([v, v]) for k, v in added_cond_kwargs.items()}
        out = self.unet(
            torch.cat([sample, sample]),
            timestep,
            states,
            *args,
            added_cond_kwargs=extra,
            return_dict=False,
            **kwargs,
        )[0]
        eps_u, eps_t, eps_vm, eps_vp = out.chunk(4)
        combined = torch.cat([eps_u, eps_t + self.a * eps_vp - self.b * eps_vm])
        return (combined,)


def pipeline_view(pipeline: Any, **replace: Any) -> Any:
    """A new pipeline object sharing every component of ``pipeline`` (``replace`` swaps some).

    Unlike ``from_pipe`` it never calls ``.to()`` on the shared components; it costs a few ms.
    Its own tqdm bar is off: progress goes through the caller's step callback.
    """
    cls = type(pipeline)
    expected, optional = cls._get_signature_keys(pipeline)
    kwargs = {k: v for k, v in pipeline.components.items() if k in expected}
    kwargs.update(replace)
    for key in optional:
        if key in pipeline.config and key not in kwargs:
            kwargs[key] = pipeline.config[key]
    view = cls(**kwargs)
    view.set_progress_bar_config(disable=True)
    return view
