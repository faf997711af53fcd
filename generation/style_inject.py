"""Learned style vectors for one call only, never in the shared tokenizer or text encoder.

A per-user token added to the shared vocabulary would grow it with every user and let one
user's word reach another's prompt. Instead the prompt is tokenized with a *reserved
placeholder* at the token's positions, and a forward hook on the encoder's token-embedding
layer replaces the embeddings at exactly those positions. The hook is installed once per
encoder and does nothing unless the calling context (a ``ContextVar``: per thread and per
asyncio task) holds an injection for that layer, so concurrent requests never see each
other's vectors. Training uses the same path with vectors that require grad, so the shared
embedding matrix is never written.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from generation.tokenizing import tokenize

STYLE_MARKER = "<style>"
"""Where the conditioning plan puts the learned token in a prompt."""

ENCODER_KEYS = ("clip_l", "clip_g")
"""Names of the text encoders as diffusers' SDXL token files spell them (SD 1.x: clip_l only)."""


@dataclass(frozen=True)
class Injection:
    """Replace the embeddings where ``mask`` is true ([B, L]) by ``vectors`` ([K, D]) per row.

    Without a mask, the positions are those whose input id is ``placeholder`` (the weighted,
    chunked path of ``generation/weighting.py``, where compel tokenizes): they take the vectors
    in order, carried over from one chunk's call to the next, so a token split by a chunk
    boundary still gets each of its K vectors once.
    """

    mask: Tensor | None
    vectors: Tensor
    placeholder: int | None = None
    cursor: list[int] = field(default_factory=lambda: [0])


_ACTIVE: ContextVar[Mapping[int, Injection] | None] = ContextVar("style_injection", default=None)
_INSTALL_LOCK = threading.Lock()
_HOOK_FLAG = "_tastemaker_style_hook"


def _hook(module: torch.nn.Module, args: Any, output: Tensor) -> Tensor | None:
    active = _ACTIVE.get()
    if not active:
        return None
    injection = active.get(id(module))
    if injection is None:
        return None
    if injection.mask is None:
        return _by_placeholder(injection, args[0], output)
    if injection.mask.shape != output.shape[:2]:
        return None
    rows = int(injection.mask.shape[0])
    replaced = output.clone()
    replaced[injection.mask] = injection.vectors.to(output.dtype).repeat(rows, 1)
    return replaced


def _by_placeholder(injection: Injection, ids: Tensor, output: Tensor) -> Tensor | None:
    where = torch.eq(ids, int(injection.placeholder or 0))
    found = int(where.sum())
    if not found:
        return None
    count = int(injection.vectors.shape[0])
    order = (injection.cursor[0] + torch.arange(found, device=output.device)) % count
    injection.cursor[0] += found
    replaced = output.clone()
    replaced[where] = injection.vectors.to(device=output.device, dtype=output.dtype)[order]
    return replaced


def install(encoder: Any) -> Any:
    """Attach the (inert unless asked) hook to ``encoder``'s token embedding once; return it."""
    embedding = encoder.get_input_embeddings()
    with _INSTALL_LOCK:
        if not getattr(embedding, _HOOK_FLAG, False):
            embedding.register_forward_hook(_hook)
            setattr(embedding, _HOOK_FLAG, True)
    return embedding


@contextlib.contextmanager
def injected(injections: Mapping[torch.nn.Module, Injection]) -> Iterator[None]:
    """Within this block (this thread/task only) the given embedding layers see the vectors."""
    token = _ACTIVE.set({id(layer): inj for layer, inj in injections.items()})
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def placeholder_id(tokenizer: Any) -> int:
    """A reserved id for the token's positions; its own embedding is always replaced.

    Any ordinary id below the end-of-text id works (SD 1.x's CLIP config finds the end of the
    prompt with ``argmax(ids)``, so the placeholder must not be the largest id).
    """
    ids = tokenize(tokenizer, "*", add_special_tokens=False).input_ids
    return int(ids[0])


def tokenize_with_token(
    tokenizer: Any, text: str, count: int, *, marker: str = STYLE_MARKER
) -> tuple[Tensor, Tensor]:
    """Ids [1, L] with ``count`` placeholders where ``marker`` is, and the mask of those positions.

    Text before the marker is shortened if needed so that the token and what follows it fit the
    window: the token is never truncated away.
    """
    before, found, after = text.partition(marker)
    if not found:
        raise ValueError(f"the text has no {marker} marker")
    length = int(tokenizer.model_max_length)
    inner = length - 2
    head = tokenize(tokenizer, before, add_special_tokens=False).input_ids if before.strip() else []
    tail = tokenize(tokenizer, after, add_special_tokens=False).input_ids if after.strip() else []
    tail = tail[: max(0, inner - count)]
    head = head[: max(0, inner - count - len(tail))]
    body = [*head, *([placeholder_id(tokenizer)] * count), *tail]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids = [tokenizer.bos_token_id, *body, tokenizer.eos_token_id]
    ids += [pad] * (length - len(ids))
    mask = torch.zeros(1, length, dtype=torch.bool)
    mask[0, 1 + len(head) : 1 + len(head) + count] = True
    return torch.tensor([ids], dtype=torch.long), mask


def encoder_keys(encoders: Sequence[torch.nn.Module]) -> tuple[str, ...]:
    """``("clip_l",)`` for SD 1.x, ``("clip_l", "clip_g")`` for SDXL."""
    return ENCODER_KEYS[: len(encoders)]
