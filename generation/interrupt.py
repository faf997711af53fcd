"""Stopping a model run inside a step, not only between two steps.

diffusers' ``callback_on_step_end`` runs between denoising steps; on a CPU one step of a large
image takes minutes, so a cancel there would wait that long. ``watch`` puts forward pre-hooks
on a pipeline's parts (each UNet resnet, attention and resampler, the VAE decoder's blocks, the
text encoders): each calls the check of the thread running the model, set by ``checking`` (the
job worker's: it raises once the job is cancelled, its lease lost or the worker stopping). So a
cancel lands within a fraction of a step, before the VAE decode, between the personalized and
the plain pass and between batch members, whatever code drives the UNet (denoising, PALP or
style training). The check is per thread: the CLI, benchmarks and tests that share a pipeline
run it unchecked; a hook without a check costs one attribute lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn

Check = Callable[[], None]
"""Raises to stop the model run of the thread that set it."""

_WATCHED = "_tastemaker_interruptible"
_current = threading.local()


def checkpoint() -> None:
    """Run this thread's check, if it has one (raises what the check raises)."""
    check: Check | None = getattr(_current, "check", None)
    if check is not None:
        check()


@contextmanager
def checking(check: Check) -> Iterator[None]:
    """Model runs of this thread call ``check`` at every watched part, until the block ends."""
    previous = getattr(_current, "check", None)
    _current.check = check
    try:
        yield
    finally:
        _current.check = previous


def watch(pipeline: Any) -> None:
    """Hook the pipeline's parts once (idempotent; the pipeline may be shared)."""
    for part in _parts(pipeline):
        if not getattr(part, _WATCHED, False):
            part.register_forward_pre_hook(_hook)
            setattr(part, _WATCHED, True)


def _hook(_module: nn.Module, _args: Any) -> None:
    checkpoint()


def _parts(pipeline: Any) -> Iterator[nn.Module]:
    for name in ("text_encoder", "text_encoder_2"):
        encoder = getattr(pipeline, name, None)
        if isinstance(encoder, nn.Module):
            yield encoder
    unet = getattr(pipeline, "unet", None)
    if isinstance(unet, nn.Module):
        blocks = [*getattr(unet, "down_blocks", []), *getattr(unet, "up_blocks", [])]
        mid = getattr(unet, "mid_block", None)
        yield from _units([*blocks, *([mid] if mid is not None else [])])
    decoder = getattr(getattr(pipeline, "vae", None), "decoder", None)
    if isinstance(decoder, nn.Module):
        yield decoder
        yield from _units([*getattr(decoder, "up_blocks", [])])


def _units(blocks: list[nn.Module]) -> Iterator[nn.Module]:
    """Each block and its resnets, attentions and resamplers: a fraction of a step apart."""
    for block in blocks:
        yield block
        for name in ("resnets", "attentions", "downsamplers", "upsamplers"):
            yield from getattr(block, name, None) or []
