"""Running jobs: ``JobExecutor`` is the one code path (claim, run, record), used by the
in-process worker thread (``LocalJobQueue``, the embedded default) and by Celery workers.

The accelerator (or the CPU) runs one job at a time, so one thread owns the models: it loads
them, then takes the fairest queued job, again and again. While a job runs, a heartbeat thread
renews its lease in the job row and reads whether its owner cancelled it; the job then stops at
the next part of the model it runs (``generation.interrupt``: within a fraction of a step), or at
the next step. A worker that lost the lease (it was paused past it and the job went to another
worker) stops there too, and stores nothing: a handler's results
(``jobs/outputs.py``) are written only by the fenced transaction that marks the job done.
HTTP handlers only write job rows and read progress, so the event loop never waits on model
work.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from generation.interrupt import Check, checking
from jobs.lease import LeaseKeeper, LeaseLost
from jobs.outputs import Finished
from jobs.progress import JobEvent, ProgressBus
from jobs.queue import JobFront
from jobs.repository import (
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    AdmissionRules,
    Job,
    JobRepository,
    JobRequest,
)

log = logging.getLogger("tastemaker.jobs")

LOST = "lost"
"""How a run ended when its job was given to another worker meanwhile (not a job status)."""
FINISHED_ELSEWHERE = "finished here after it was given to another worker; it stored nothing"

StepReporter = Callable[[int], None]
"""Called by a job with the steps it has done; raises to stop the job between two steps."""
Handler = Callable[[Job, StepReporter], dict[str, Any] | Finished]
"""Runs one job of a kind; returns the job's result (JSON-ready), with what it made to store."""
Outcome = dict[str, Any] | Finished | Exception
BatchRunner = Callable[[list[Job], list[StepReporter]], list[Outcome]]
"""Runs several compatible jobs of a kind together; per job its result or what ended it."""


class BatchStats:
    """Jobs per denoising batch and images made, for ``/metrics`` (one worker's figures)."""

    def __init__(self) -> None:
        self.sizes: Counter[int] = Counter()
        self.images = 0
        self.busy_s = 0.0
        self._lock = threading.Lock()

    def record(self, jobs: int, images: int, seconds: float) -> None:
        with self._lock:
            self.sizes[jobs] += 1
            self.images += images
            self.busy_s += seconds

    def snapshot(self) -> tuple[dict[int, int], int, float]:
        with self._lock:
            return dict(self.sizes), self.images, self.busy_s


class JobCancelled(Exception):
    """The job's owner cancelled it."""


class Interrupted(Exception):
    """The worker is stopping: leave the job for the next start."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobExecutor:
    """Claims the fairest queued job of the kinds it has handlers for and runs it."""

    def __init__(
        self,
        repository: JobRepository,
        handlers: Mapping[str, Handler],
        progress: ProgressBus,
        *,
        worker: str | None = None,
        heartbeat_s: float = 2.0,
        stopping: threading.Event | None = None,
        max_batch: int = 1,
        gather_s: float = 0.05,
    ) -> None:
        self.repository = repository
        self.handlers = dict(handlers)
        self.progress = progress
        self.worker = worker or worker_name()
        self.heartbeat_s = heartbeat_s
        self.stopping = stopping or threading.Event()
        self.finished: Counter[str] = Counter()
        self._cancels: dict[str, threading.Event] = {}
        self.max_batch = max(1, max_batch)
        self.gather_s = gather_s
        self.batches = BatchStats()

    @property
    def running(self) -> int:
        return len(self._cancels)

    def cancel_here(self, job_id: str) -> None:
        """Stop a job this process runs at its next step (no wait for the heartbeat)."""
        event = self._cancels.get(job_id)
        if event is not None:
            event.set()

    def run_next(self) -> Job | None:
        """Run the fairest queued job (with up to ``max_batch - 1`` compatible ones, in one
        batch) to its end; None when nothing was queued."""
        if self.max_batch > 1 and self.gather_s > 0:
            waiting = self.repository.count(QUEUED)
            if 0 < waiting < self.max_batch:  # a short wait for company, never longer
                self.stopping.wait(self.gather_s)
        claimed = self.repository.claim(self.worker, self.handlers, limit=self.max_batch)
        if not claimed:
            return None
        if len(claimed) == 1:
            self.run(claimed[0])
        else:
            self.run_batch(claimed)
        return claimed[0]

    def run(self, job: Job) -> str:
        """Run a claimed job and record how it ended; returns the final status."""
        report, check, stop = self._start(job)
        started = time.perf_counter()
        outcome: Outcome
        try:
            if job.cancel_requested:
                raise JobCancelled
            with checking(check):
                outcome = self.handlers[job.kind](job, report)
        except Exception as error:
            outcome = error
        self._record([outcome], time.perf_counter() - started)
        return self._finish(job, outcome, stop)

    def run_batch(self, jobs: list[Job]) -> list[str]:
        """Run claimed compatible jobs together (their kind's ``run_batch``); each job ends on
        its own: a cancel or a bad input ends only that job."""
        runner: BatchRunner | None = getattr(self.handlers[jobs[0].kind], "run_batch", None)
        if runner is None:
            return [self.run(job) for job in jobs]
        starts = [self._start(job) for job in jobs]
        outcomes: list[Outcome] = [JobCancelled()] * len(jobs)
        live = [i for i, job in enumerate(jobs) if not job.cancel_requested]
        started = time.perf_counter()
        try:
            with checking(_all_of([starts[i][1] for i in live])):
                ran = runner([jobs[i] for i in live], [starts[i][0] for i in live])
            for i, outcome in zip(live, ran, strict=True):
                outcomes[i] = outcome
        except Exception as error:  # the batch as a whole failed: so did each of its jobs
            for i in live:
                outcomes[i] = error
        for i in live:  # stopped within a step (all at once): each job ends for its own reason
            if isinstance(outcomes[i], (JobCancelled, Interrupted, LeaseLost)):
                outcomes[i] = _stop_reason(starts[i][1]) or outcomes[i]
        self._record(outcomes, time.perf_counter() - started)
        return [
            self._finish(job, outcome, stop)
            for job, (_report, _check, stop), outcome in zip(jobs, starts, outcomes, strict=True)
        ]

    def _record(self, outcomes: list[Outcome], seconds: float) -> None:
        results = [o.result if isinstance(o, Finished) else o for o in outcomes]
        images = sum(
            int(r.get("images", 0)) + int(r.get("plain_images", 0))
            for r in results
            if isinstance(r, dict)
        )
        self.batches.record(len(outcomes), images, seconds)

    def _start(self, job: Job) -> tuple[StepReporter, Check, Callable[[], None]]:
        """Lease and progress for a claimed job: its step reporter, its check within a step
        (flags only: it runs dozens of times a step) and its stop."""
        cancel = self._cancels.setdefault(job.id, threading.Event())
        lease = LeaseKeeper(
            self.repository,
            job,
            every_s=self.heartbeat_s,
            stale_s=2 * self.heartbeat_s,
            cancel=cancel,
        )
        lease.start()
        self.progress.publish(JobEvent(job.id, RUNNING, 0, job.total_steps))

        def check() -> None:
            if lease.lost.is_set():
                raise LeaseLost(f"job {job.id}: attempt {job.attempts} lost its lease")
            if cancel.is_set():
                raise JobCancelled
            if self.stopping.is_set():
                raise Interrupted

        def report(step: int) -> None:
            lease.check()  # before anything is published for a job that is not ours any more
            self.progress.publish(JobEvent(job.id, RUNNING, step, job.total_steps))
            check()

        def stop() -> None:
            lease.stop()
            self._cancels.pop(job.id, None)

        return report, check, stop

    def _finish(self, job: Job, outcome: Outcome, stop: Callable[[], None]) -> str:
        """Record how a job ended (done, cancelled, back in the queue, failed), or nothing at
        all when it was given to another worker meanwhile."""
        status = FAILED
        try:
            if isinstance(outcome, LeaseLost):
                status = LOST
                log.warning("job %s: this worker lost its lease; stopped, stored nothing", job.id)
            elif isinstance(outcome, JobCancelled):
                status = CANCELLED
                self.repository.mark_cancelled(job)
            elif isinstance(outcome, Interrupted):
                status = QUEUED
                self.repository.mark_queued(job)
            elif isinstance(outcome, Exception):
                if not isinstance(outcome, ValueError):
                    log.error("job %s failed", job.id, exc_info=outcome)
                self.repository.mark_failed(job, str(outcome) or type(outcome).__name__)
            else:
                status = self._done(job, outcome)
        finally:
            stop()
        self.finished[status] += 1
        if status != LOST:  # the job's events are its current owner's
            final = self.repository.get(job.id)
            step = job.total_steps if status == DONE else 0
            self.progress.publish(
                JobEvent(job.id, final.status if final else status, step, job.total_steps)
            )
        return status

    def _done(self, job: Job, outcome: dict[str, Any] | Finished) -> str:
        """Done with its results, in one fenced transaction (LOST: another attempt holds it)."""
        finished = outcome if isinstance(outcome, Finished) else Finished(outcome)
        try:
            stored = self.repository.mark_done(job, finished.result, finished.outputs.write)
        except Exception as error:  # its results could not be written: none of them were
            log.error("job %s: storing its results failed", job.id, exc_info=True)
            self.repository.mark_failed(job, f"its results could not be stored: {error}")
            return FAILED
        if not stored:
            log.warning("job %s %s", job.id, FINISHED_ELSEWHERE)
            return LOST
        finished.outputs.committed()
        return DONE


Loader = Callable[[], Mapping[str, Handler]]
"""Runs in the worker thread: loads the models once, returns a handler per job kind."""


class LocalJobQueue(JobFront):
    """The embedded engine: one worker thread in the API process, woken on submit."""

    def __init__(
        self,
        repository: JobRepository,
        progress: ProgressBus,
        rules: AdmissionRules,
        load: Loader,
        kinds: list[str],
        *,
        max_batch: int = 1,
        gather_s: float = 0.05,
    ) -> None:
        super().__init__(repository, progress, rules)
        self._max_batch = max_batch
        self._gather_s = gather_s
        self._load = load
        self._kinds = kinds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.executor: JobExecutor | None = None
        self.load_error: str | None = None

    def start(self) -> None:
        self.repository.recover()  # one process: what was running died with the last one
        self._wake.set()
        self._thread = threading.Thread(target=self._run, name="tastemaker-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self.load_error is None

    @property
    def loading(self) -> bool:
        return not self._ready.is_set()

    def submit(self, user_id: str, kind: str, request: JobRequest) -> Job:
        job = self.admit(user_id, kind, request)
        self._wake.set()
        return job

    def cancel(self, user_id: str, job_id: str) -> Job | None:
        job = super().cancel(user_id, job_id)
        if job is not None and job.cancel_requested and self.executor is not None:
            self.executor.cancel_here(job_id)
        return job

    def stats(self) -> dict[str, int]:
        finished = self.executor.finished if self.executor is not None else Counter[str]()
        return {
            "waiting": self.repository.count(QUEUED),
            "running": self.executor.running if self.executor is not None else 0,
            **{f"finished_{k}": v for k, v in finished.items()},
        }

    def batch_stats(self) -> BatchStats | None:
        """Jobs per batch and images made by this process's worker (None before it starts)."""
        return self.executor.batches if self.executor is not None else None

    def _run(self) -> None:
        try:
            handlers = self._load()
        except Exception as error:
            log.exception("loading the models failed")
            self.load_error = str(error) or type(error).__name__
            handlers = {kind: _unavailable(self.load_error) for kind in self._kinds}
        self.executor = JobExecutor(
            self.repository,
            handlers,
            self.progress,
            stopping=self._stopping,
            max_batch=self._max_batch,
            gather_s=self._gather_s,
        )
        self._ready.set()
        while not self._stopping.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            while not self._stopping.is_set() and self.executor.run_next() is not None:
                time.sleep(0)  # let the event loop's threads in between two jobs


def batch_snapshot(queue: object) -> Callable[[], tuple[dict[int, int], int, float] | None]:
    """For ``/metrics``: this process's worker's batch figures (None: it runs no jobs here)."""

    def snapshot() -> tuple[dict[int, int], int, float] | None:
        stats = getattr(queue, "batch_stats", None)
        batches = stats() if stats is not None else None
        return batches.snapshot() if batches is not None else None

    return snapshot


def _all_of(checks: list[Check]) -> Check:
    """A batch's check within a step: stops the batch only when every job in it would stop
    (a job cancelled alone leaves it at the next step, its rows dropped from the batch)."""

    def check() -> None:
        stops = [_stop_reason(one) for one in checks]
        if stops and all(stops):
            raise stops[0]  # type: ignore[misc]  # not None: all are set

    return check


def _stop_reason(check: Check) -> Exception | None:
    try:
        check()
    except Exception as error:
        return error
    return None


def _unavailable(reason: str) -> Handler:
    def fail(_job: Job, _report: StepReporter) -> dict[str, Any]:
        raise RuntimeError(f"the model could not be loaded: {reason}")

    return fail
