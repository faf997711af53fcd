"""Running jobs: ``JobExecutor`` is the one code path (claim, run, record), used by the
in-process worker thread (``LocalJobQueue``, the embedded default) and by Celery workers.

The accelerator (or the CPU) runs one job at a time, so one thread owns the models: it loads
them, then takes the fairest queued job, again and again. While a job runs, a heartbeat thread
renews its lease in the job row and reads whether its owner cancelled it; the step callback then
stops the job at the next step. HTTP handlers only write job rows and read progress, so the
event loop never waits on model work.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from api.jobs import (
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
from api.jobs_progress import JobEvent, ProgressBus
from api.jobs_queue import JobFront

log = logging.getLogger("tastemaker.jobs")

StepReporter = Callable[[int], None]
"""Called by a job with the steps it has done; raises to stop the job between two steps."""
Handler = Callable[[Job, StepReporter], dict[str, Any]]
"""Runs one job of a kind; returns the job's result (JSON-ready)."""


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
    ) -> None:
        self.repository = repository
        self.handlers = dict(handlers)
        self.progress = progress
        self.worker = worker or worker_name()
        self.heartbeat_s = heartbeat_s
        self.stopping = stopping or threading.Event()
        self.finished: Counter[str] = Counter()
        self._cancels: dict[str, threading.Event] = {}

    @property
    def running(self) -> int:
        return len(self._cancels)

    def cancel_here(self, job_id: str) -> None:
        """Stop a job this process runs at its next step (no wait for the heartbeat)."""
        event = self._cancels.get(job_id)
        if event is not None:
            event.set()

    def run_next(self) -> Job | None:
        """Run the fairest queued job to its end; None when nothing was queued."""
        claimed = self.repository.claim(self.worker, self.handlers)
        if not claimed:
            return None
        job = claimed[0]
        self.run(job)
        return job

    def run(self, job: Job) -> str:
        """Run a claimed job and record how it ended; returns the final status."""
        cancel = self._cancels.setdefault(job.id, threading.Event())
        beating = threading.Event()
        heart = threading.Thread(
            target=self._heartbeat, args=(job, cancel, beating), daemon=True, name="job-lease"
        )
        heart.start()
        self.progress.publish(JobEvent(job.id, RUNNING, 0, job.total_steps))

        def report(step: int) -> None:
            self.progress.publish(JobEvent(job.id, RUNNING, step, job.total_steps))
            if cancel.is_set():
                raise JobCancelled
            if self.stopping.is_set():
                raise Interrupted

        status = FAILED
        try:
            if job.cancel_requested:
                raise JobCancelled
            result = self.handlers[job.kind](job, report)
        except JobCancelled:
            status = CANCELLED
            self.repository.mark_cancelled(job)
        except Interrupted:
            status = QUEUED
            self.repository.mark_queued(job)
        except Exception as error:
            if not isinstance(error, ValueError):
                log.exception("job %s failed", job.id)
            self.repository.mark_failed(job, str(error) or type(error).__name__)
        else:
            status = DONE
            if not self.repository.mark_done(job, result):
                log.warning("job %s finished here after it was given to another worker", job.id)
        finally:
            beating.set()
            heart.join(5)
            self._cancels.pop(job.id, None)
        self.finished[status] += 1
        final = self.repository.get(job.id)
        step = job.total_steps if status == DONE else 0
        self.progress.publish(
            JobEvent(job.id, final.status if final else status, step, job.total_steps)
        )
        return status

    def _heartbeat(self, job: Job, cancel: threading.Event, done: threading.Event) -> None:
        while not done.wait(self.heartbeat_s):
            try:
                if self.repository.heartbeat(job.id, self.worker, job.attempts):
                    cancel.set()
            except Exception:  # a database hiccup must not kill the job; the next beat retries
                log.warning("could not renew the lease of job %s", job.id, exc_info=True)


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
    ) -> None:
        super().__init__(repository, progress, rules)
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

    def follow(self, job_id: str) -> AsyncIterator[JobEvent | None]:
        return self.progress.follow(job_id)

    def _run(self) -> None:
        try:
            handlers = self._load()
        except Exception as error:
            log.exception("loading the models failed")
            self.load_error = str(error) or type(error).__name__
            handlers = {kind: _unavailable(self.load_error) for kind in self._kinds}
        self.executor = JobExecutor(
            self.repository, handlers, self.progress, stopping=self._stopping
        )
        self._ready.set()
        while not self._stopping.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            while not self._stopping.is_set() and self.executor.run_next() is not None:
                time.sleep(0)  # let the event loop's threads in between two jobs


def _unavailable(reason: str) -> Handler:
    def fail(_job: Job, _report: StepReporter) -> dict[str, Any]:
        raise RuntimeError(f"the model could not be loaded: {reason}")

    return fail
