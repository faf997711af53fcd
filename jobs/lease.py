"""Leases: a running job belongs to one attempt of one worker, and only that attempt may end it.

A claim gives the job to (``worker``, ``attempts``); the worker renews ``heartbeat_at``, and a
sweep gives a job whose lease ran out to the queue again. A worker that was paused (a VM pause,
SIGSTOP, a partition) may come back after that and not know; so every write a run makes is
fenced by the pair: ``heartbeat`` raises ``LeaseLost`` once the row is no longer its own, and the
end-of-run writes are one transaction each, guarded by (status running, worker, attempt). The
results of a run (images, style tokens) are written by ``write`` inside ``mark_done``'s
transaction, after the guard matched: a late worker stores nothing, and a job is never done
without them. (The guarded ``UPDATE`` holds the row's lock until the commit, also while a file
blob store writes its files there, so no other attempt can end the job in between.)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from jobs.rows import CANCEL_REASON, CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobRow
from preference_store.models import utc_now

if TYPE_CHECKING:
    from jobs.repository import Job

log = logging.getLogger("tastemaker.jobs")

GAVE_UP = "the worker running this job stopped {} times; giving up: submit it again"
Write = Callable[[Session], None]
"""Stores a run's results in the transaction that marks its job done."""


class LeaseLost(Exception):
    """The job was given to another attempt: this run must stop and store nothing."""


class JobLeases:
    """The worker's side of the job rows (``JobRepository`` has it): renew, end, take back."""

    _engine: Engine

    def heartbeat(self, job_id: str, worker: str, attempt: int) -> bool:
        """Renew the lease; True when the owner asked to cancel the job, ``LeaseLost`` when the
        job is no longer this attempt's."""
        with Session(self._engine) as session, session.begin():
            renewed = session.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id,
                    JobRow.status == RUNNING,
                    JobRow.worker == worker,
                    JobRow.attempts == attempt,
                )
                .values(heartbeat_at=utc_now())
            )
            if not getattr(renewed, "rowcount", 0):
                raise LeaseLost(f"job {job_id} is no longer attempt {attempt} of {worker}")
            return bool(session.scalar(select(JobRow.cancel_requested).where(JobRow.id == job_id)))

    def _end(self, job: Job, write: Write | None = None, **values: Any) -> bool:
        """One end-of-run write (and ``write``, in the same transaction), only by the attempt
        that holds the job; False, with nothing written, for any other."""
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                update(JobRow)
                .where(
                    JobRow.id == job.id,
                    JobRow.status == RUNNING,
                    JobRow.worker == job.worker,
                    JobRow.attempts == job.attempts,
                )
                .values(**values)
            )
            if not getattr(result, "rowcount", 0):
                return False
            if write is not None:
                write(session)  # raises: the transaction rolls back, the job stays running
            return True

    def mark_done(self, job: Job, result: dict[str, Any], write: Write | None = None) -> bool:
        """Done with its ``result``; ``write`` stores what the run made, in the same
        transaction (nothing at all when another attempt holds the job)."""
        return self._end(job, write, status=DONE, result=json.dumps(result), finished_at=utc_now())

    def mark_failed(self, job: Job, reason: str) -> bool:
        return self._end(job, status=FAILED, error=reason[:2_000], finished_at=utc_now())

    def mark_cancelled(self, job: Job) -> bool:
        return self._end(job, status=CANCELLED, error=CANCEL_REASON, finished_at=utc_now())

    def mark_queued(self, job: Job) -> bool:
        """A graceful stop between steps: back in the queue, the attempt not counted."""
        return self._end(
            job,
            status=QUEUED,
            worker=None,
            started_at=None,
            heartbeat_at=None,
            attempts=JobRow.attempts - 1,
        )

    def requeue_orphans(self, lease_s: float, max_attempts: int) -> list[str]:
        """Running jobs whose worker stopped renewing its lease: back to the queue (returned),
        or failed with the reason after ``max_attempts``; cancelled when the owner asked.

        Every worker sweeps, so two sweeps may read the same orphan. Each write is fenced like
        an end of run, by the attempt it read and its lapsed lease: a sweep that writes after
        another one requeued the job and a worker claimed it again changes nothing (an
        unguarded write put that live attempt back in the queue: it lost its lease and the job
        ran a third time, past ``max_attempts``). The owner's cancel is part of the fence too:
        one that lands between the read and the write leaves the job to the next sweep, which
        cancels it, rather than putting a cancelled job back in the queue."""
        now = utc_now()
        stale = now - timedelta(seconds=lease_s)
        requeued: list[str] = []
        with Session(self._engine) as session, session.begin():
            orphans = session.execute(
                select(JobRow.id, JobRow.worker, JobRow.attempts, JobRow.cancel_requested).where(
                    JobRow.status == RUNNING, JobRow.heartbeat_at < stale
                )
            ).all()
            for job_id, worker, attempts, cancel_requested in orphans:
                end: dict[str, Any] = {"status": QUEUED, "started_at": None}
                if cancel_requested:
                    end = {"status": CANCELLED, "error": CANCEL_REASON, "finished_at": now}
                elif (attempts or 0) >= max_attempts:
                    end = {"status": FAILED, "error": GAVE_UP.format(attempts), "finished_at": now}
                taken = session.execute(
                    update(JobRow)
                    .where(
                        JobRow.id == job_id,
                        JobRow.status == RUNNING,
                        JobRow.worker == worker,
                        JobRow.attempts == attempts,
                        JobRow.heartbeat_at < stale,
                        JobRow.cancel_requested.is_(True)
                        if cancel_requested
                        else JobRow.cancel_requested.isnot(True),
                    )
                    .values(worker=None, heartbeat_at=None, **end)
                )
                if getattr(taken, "rowcount", 0) and end["status"] == QUEUED:
                    requeued.append(job_id)
        return requeued


class LeaseKeeper:
    """One run's lease: a thread renews it every ``every_s`` and notes a cancel or a loss;
    ``check`` (at each step) raises ``LeaseLost`` once it is gone. When no renewal succeeded for
    ``stale_s`` (the process was paused, the database was out of reach), ``check`` asks the
    database itself before the step goes on, so a worker that comes back from a pause stops at
    its first step, whatever its renewing thread does meanwhile."""

    def __init__(
        self,
        leases: JobLeases,
        job: Job,
        *,
        every_s: float,
        stale_s: float,
        cancel: threading.Event,
    ) -> None:
        assert job.worker is not None, "a claimed job names its worker"
        self._leases = leases
        self._job = job
        self._worker = job.worker
        self._every_s = every_s
        self._stale_s = stale_s
        self._cancel = cancel
        self.lost = threading.Event()
        self._renewed = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="job-lease")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(5)

    def check(self) -> None:
        if not self.lost.is_set() and time.monotonic() - self._renewed > self._stale_s:
            self._renew()
        if self.lost.is_set():
            raise LeaseLost(f"job {self._job.id}: attempt {self._job.attempts} lost its lease")

    def _beat(self) -> None:
        while not self._done.wait(self._every_s) and not self.lost.is_set():
            self._renew()

    def _renew(self) -> None:
        try:
            if self._leases.heartbeat(self._job.id, self._worker, self._job.attempts):
                self._cancel.set()
            self._renewed = time.monotonic()
        except LeaseLost:
            self.lost.set()
        except Exception:  # a database hiccup must not kill the job; the next beat retries
            log.warning("could not renew the lease of job %s", self._job.id, exc_info=True)
