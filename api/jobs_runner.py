"""A bounded job queue with one worker thread per loaded pipeline.

The accelerator (or the CPU) runs one generation at a time, so one thread owns the models: it
loads them, then takes jobs in order. HTTP handlers only write a job row and read progress from
memory, so the event loop never waits on model work. A full queue is refused up front with an
estimate of when to retry; a stop between steps puts the running job back in the queue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from api.jobs import QUEUED, Job, JobRepository

log = logging.getLogger("tastemaker.jobs")

StepReporter = Callable[[int], None]
Work = Callable[[Job, StepReporter], dict[str, Any]]
"""Runs one job in the worker thread, reporting steps done; returns the job's result."""


class QueueFull(Exception):
    def __init__(self, waiting: int, retry_after_s: int) -> None:
        super().__init__(
            f"{waiting} generations are already waiting; try again in about {retry_after_s} s"
        )
        self.retry_after_s = retry_after_s


class _Interrupted(Exception):
    """The service is stopping: leave the job for the next start."""


class JobRunner:
    """Owns the worker thread. ``load`` builds the models inside that thread and returns the
    function that runs one job, so a slow model load never delays the HTTP server's start."""

    def __init__(self, repository: JobRepository, load: Callable[[], Work], *, capacity: int):
        self.repository = repository
        self._load = load
        self._capacity = capacity
        self._queue: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._waiting = 0
        self._steps: dict[str, int] = {}
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._work: Work | None = None
        self.load_error: str | None = None
        self.finished: Counter[str] = Counter()
        self._mean_seconds = 10.0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for job in self.repository.recover():
            self._enqueue(job.id)
        self._thread = threading.Thread(target=self._run, name="tastemaker-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self._work is not None

    @property
    def loading(self) -> bool:
        return not self._ready.is_set()

    # -- requests ----------------------------------------------------------------------------

    def submit(self, user_id: str, request: dict[str, Any], total_steps: int) -> Job:
        """Persist a queued job and hand it to the worker; ``QueueFull`` when too many wait."""
        with self._lock:
            if self._waiting >= self._capacity:
                retry = int(self._mean_seconds * max(1, self._waiting)) + 1
                raise QueueFull(self._waiting, min(retry, 3_600))
            job = self.repository.create(user_id, request, total_steps)
            self._enqueue_locked(job.id)
        return job

    def step(self, job_id: str) -> int | None:
        """Steps done by the running job (None when it is not running in this process)."""
        return self._steps.get(job_id)

    def stats(self) -> dict[str, int]:
        return {
            "waiting": self._waiting,
            "running": len(self._steps),
            "capacity": self._capacity,
            **{f"finished_{k}": v for k, v in self.finished.items()},
        }

    # -- worker ------------------------------------------------------------------------------

    def _enqueue(self, job_id: str) -> None:
        with self._lock:
            self._enqueue_locked(job_id)

    def _enqueue_locked(self, job_id: str) -> None:
        self._waiting += 1
        self._queue.put(job_id)

    def _run(self) -> None:
        try:
            self._work = self._load()
        except Exception as error:
            log.exception("loading the models failed")
            self.load_error = str(error) or type(error).__name__
        self._ready.set()
        while not self._stopping.is_set():
            try:
                job_id = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if self._stopping.is_set():
                break  # the job stays queued in the store; the next start runs it
            with self._lock:
                self._waiting -= 1
            self._run_one(job_id)

    def _run_one(self, job_id: str) -> None:
        job = self.repository.get(job_id)
        if job is None or job.status != QUEUED:
            return
        if self._work is None:
            self.repository.mark_failed(job_id, f"the model could not be loaded: {self.load_error}")
            self.finished["failed"] += 1
            return
        if not self.repository.claim(job_id):
            return
        self._steps[job_id] = 0
        started = time.monotonic()

        def report(step: int) -> None:
            self._steps[job_id] = step
            if self._stopping.is_set():
                raise _Interrupted

        try:
            result = self._work(job, report)
        except _Interrupted:
            self.repository.mark_queued(job_id)
            return
        except Exception as error:
            if not isinstance(error, ValueError):
                log.exception("generation %s failed", job_id)
            self.repository.mark_failed(job_id, str(error) or type(error).__name__)
            self.finished["failed"] += 1
        else:
            self.repository.mark_done(job_id, result)
            self.finished["done"] += 1
            elapsed = time.monotonic() - started
            self._mean_seconds = 0.7 * self._mean_seconds + 0.3 * elapsed
        finally:
            self._steps.pop(job_id, None)
