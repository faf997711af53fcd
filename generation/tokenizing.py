"""Tokenizer calls that are safe from several threads at once.

A Hugging Face fast tokenizer keeps its truncation and padding settings in the shared Rust
object and changes them on every call that passes different ones, so two threads tokenizing
with one tokenizer (two people's requests on the shared pipeline) can read each other's
settings: counts come out wrong and prompts are cut at the wrong place. One lock per tokenizer
serialises the calls; tokenizing costs microseconds next to any model work.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def _lock_for(tokenizer: Any) -> threading.Lock:
    with _GUARD:
        lock = _LOCKS.get(tokenizer)
        if lock is None:
            lock = _LOCKS[tokenizer] = threading.Lock()
        return lock


def tokenize(tokenizer: Any, *args: Any, **kwargs: Any) -> Any:
    """``tokenizer(*args, **kwargs)``, one call at a time per tokenizer."""
    with _lock_for(tokenizer):
        return tokenizer(*args, **kwargs)


class LockedTokenizer:
    """A tokenizer whose calls go through ``tokenize`` (for libraries that call it directly,
    such as compel); every attribute is the tokenizer's own."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        # compel tokenizes a long prompt whole on purpose and then chunks it: transformers'
        # one-time "sequence length is longer than the maximum" warning is wrong for it.
        warned = getattr(tokenizer, "deprecation_warnings", None)
        if isinstance(warned, dict):
            warned["sequence-length-is-longer-than-the-specified-maximum"] = True

    def __getattr__(self, name: str) -> Any:
        if name == "tokenizer":
            raise AttributeError(name)
        return getattr(self.tokenizer, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return tokenize(self.tokenizer, *args, **kwargs)
