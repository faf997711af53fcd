"""What one run of a job makes, held back until the run ends, then stored by the transaction that
marks the job done (``JobLeases.mark_done``), so a worker that lost its job stores nothing.

Images and style tokens are the job's results: a handler hands them to its ``JobOutputs``
(``put``, ``add``: the calls the blob and style stores answer) instead of the stores, and the
fenced transaction writes them all or none. A PALP adapter is different: a cache entry a worker
keeps for itself, derived from its key alone; it is written after that commit, and only by the
run that completed the job (``adapters``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from preference_store.blobs import BlobStore
from preference_store.style_blobs import check_token_blob
from preference_store.styles import StyleRecord, StyleStore

if TYPE_CHECKING:
    from torch import Tensor

    from generation.palp_adapters import AdapterStore

log = logging.getLogger("tastemaker.jobs")


class JobOutputs:
    """Images (by blob key) and style tokens of one run, and what waits for its commit."""

    def __init__(self, blobs: BlobStore | None = None, styles: StyleStore | None = None) -> None:
        self._blob_store = blobs
        self._style_store = styles
        self.blobs: dict[str, bytes] = {}
        self.tokens: list[tuple[StyleRecord, bytes]] = []
        self._after_commit: list[Callable[[], None]] = []

    def put(self, key: str, data: bytes) -> str:
        """Keep an image for the blob store; its key (where it will be once the job is done)."""
        if self._blob_store is None:
            raise RuntimeError("this job kind stores no blobs")
        self.blobs[key] = data
        return key

    def add(self, record: StyleRecord, blob: bytes) -> StyleRecord:
        """Keep a trained style token (checked now, so a bad one fails the job, not its end)."""
        if self._style_store is None:
            raise RuntimeError("this job kind stores no style tokens")
        record = record.model_copy(update={"vectors": check_token_blob(blob, record.family)})
        self.tokens.append((record, blob))
        return record

    def adapters(self, cache: AdapterStore | None) -> AdapterStore | None:
        """``cache`` for this run: hits as usual, new adapters once the job is done."""
        return None if cache is None else _HeldAdapters(cache, self._after_commit)

    def finished(self, result: dict[str, Any]) -> Finished:
        return Finished(result, self)

    def write(self, session: Session) -> None:
        """Store everything kept, in the caller's (fenced) transaction."""
        if self._blob_store is not None:
            for key, data in self.blobs.items():
                self._blob_store.put_in(session, key, data)
        if self._style_store is not None:
            for record, blob in self.tokens:
                self._style_store.add_in(session, record, blob)

    def committed(self) -> None:
        """The job is done with these results: write what waited for that (best effort)."""
        for write in self._after_commit:
            try:
                write()
            except Exception:  # a cache entry: the next run that needs it makes it again
                log.warning("could not keep an adapter in the cache", exc_info=True)
        self._after_commit.clear()


@dataclass(frozen=True)
class Finished:
    """A handler's answer: the job's result (JSON-ready) and what the run made."""

    result: dict[str, Any]
    outputs: JobOutputs = field(default_factory=JobOutputs)


class _HeldAdapters:
    """An adapter cache whose new entries wait for the job's commit."""

    def __init__(self, cache: AdapterStore, after_commit: list[Callable[[], None]]) -> None:
        self._cache = cache
        self._after_commit = after_commit

    def get(self, key: str) -> tuple[dict[str, Tensor], int] | None:
        return self._cache.get(key)

    def put(self, key: str, adapter: dict[str, Tensor], *, rank: int) -> None:
        self._after_commit.append(lambda: self._cache.put(key, adapter, rank=rank))
