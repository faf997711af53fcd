"""One model load at a time per process.

diffusers and transformers (sentence-transformers too) create weights on the meta device inside
a context that patches torch for the whole process, so a model built or loaded in another thread
at that moment gets meta tensors ("Cannot copy out of meta tensor"). Seen when the service
loaded MiniLM or CLIP in a request thread while its worker loaded the pipeline. Every loader
takes this lock; it lives here, at the bottom of the layers, so all of them can.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

LOADING = threading.RLock()
"""Held while a model loads; re-entrant (loading a pipeline loads its CLIP too)."""

P = ParamSpec("P")
R = TypeVar("R")


def one_load_at_a_time(load: Callable[P, R]) -> Callable[P, R]:
    """``load`` under ``LOADING``, with its own signature."""

    @functools.wraps(load)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        with LOADING:
            return load(*args, **kwargs)

    return locked
