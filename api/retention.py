"""Generated images are kept ``TASTEMAKER_IMAGE_RETENTION_DAYS`` days, then deleted.

Every API process sweeps (deleting a blob twice is harmless), once at start and then hourly, so
no extra process is needed in either mode. A job whose images are gone still answers its status;
its image URLs answer 404.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from jobs.generation import GENERATIONS_PREFIX
from preference_store.blobs import BlobStore
from preference_store.models import utc_now

log = logging.getLogger("tastemaker.retention")
SWEEP_EVERY_S = 3_600.0


def purge_expired_images(blobs: BlobStore, days: float, *, now: datetime | None = None) -> int:
    """Delete generated images written more than ``days`` before ``now``; returns how many."""
    cutoff = (now or utc_now()) - timedelta(days=days)
    return blobs.purge(GENERATIONS_PREFIX, cutoff)


class RetentionSweeper:
    """A daemon thread that purges expired images every ``every_s`` seconds until stopped."""

    def __init__(self, blobs: BlobStore, days: float, *, every_s: float = SWEEP_EVERY_S) -> None:
        self._blobs = blobs
        self._days = days
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="image-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                removed = purge_expired_images(self._blobs, self._days)
                if removed:
                    log.info("deleted %d generated images older than %s days", removed, self._days)
            except Exception:  # a failed sweep is retried at the next one, never fatal
                log.exception("image retention sweep failed")
            self._stop.wait(self._every_s)
