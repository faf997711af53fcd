"""Jobs in the relational store: the one source of truth, whichever engine runs them.

The job interface (every engine keeps it; see ``jobs/queue.py`` for the protocol):

- A job has a ``kind`` ("generation" or "style_training") and a typed request, a pydantic model
  registered for that kind by the composition root (``JobKinds``), so adding a kind never
  touches the queue. A request says its ``total_steps()``, its cost in
  ``pixel_steps()`` and a ``batch_key()`` (requests with equal keys may share one batch).
- A job row moves ``queued → running → done | failed | cancelled`` (failed and cancelled carry a
  reason). It is written as ``queued`` before anyone is told it exists.
- Admission (``create``) keeps the rules in one transaction: at most ``per_user`` queued+running
  jobs per user and ``capacity`` queued jobs in all.
- ``claim`` takes the fairest queued job, atomically: the head (oldest queued job) of the user
  with the fewest running jobs who was served least recently, so one user's backlog never blocks
  another's. ``limit > 1`` also takes queued jobs of the same kind and ``batch_key``, oldest
  first (the hook for batched generation: a worker takes several compatible jobs at once).
- A running job belongs to one ``worker`` and one ``attempts`` number; its worker renews
  ``heartbeat_at``. Every end-of-run write, results included, is fenced by (status, worker,
  attempt), so a worker that was given up on can never complete a job a second time nor store
  anything for it (``jobs/lease.py``). ``requeue_orphans`` puts the jobs of a worker that
  stopped renewing back in the queue, or fails them after ``max_attempts``.
- Cancelling a queued job ends it at once; a running job gets ``cancel_requested`` and its worker
  stops it at the next step.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from jobs.lease import JobLeases
from jobs.rows import (
    CANCEL_REASON,
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    RESTART_REASON,
    RUNNING,
    JobRow,
)
from preference_store.models import new_id, utc_now


class JobRequest(Protocol):
    """What the queue needs from a kind's request model (a frozen pydantic model)."""

    def total_steps(self) -> int: ...

    def pixel_steps(self) -> int: ...

    def too_large(self, limit: int) -> str:
        """Why ``pixel_steps()`` is over ``limit``, in words, and what would fit."""
        ...

    def batch_key(self) -> tuple[object, ...]: ...

    def model_dump_json(self) -> str: ...


class JobKinds:
    """Kind name → request model; filled by the composition root, read by the repository."""

    def __init__(self) -> None:
        self._types: dict[str, type[BaseModel]] = {}

    def register(self, kind: str, request_type: type[BaseModel]) -> None:
        self._types[kind] = request_type

    def names(self) -> list[str]:
        return list(self._types)

    def parse(self, kind: str, raw: str) -> JobRequest:
        request_type = self._types.get(kind)
        if request_type is None:
            raise UnknownJobKind(f"no job kind {kind!r} is registered here")
        request: JobRequest = request_type.model_validate_json(raw)  # type: ignore[assignment]
        return request


class JobError(Exception):
    """Base of what the queue refuses; the API maps each to a status."""


class UnknownJobKind(JobError):
    pass


class QueueFull(JobError):
    def __init__(self, waiting: int, retry_after_s: int) -> None:
        super().__init__(
            f"{waiting} jobs are already waiting; try again in about {retry_after_s} s"
        )
        self.retry_after_s = retry_after_s


class UserJobLimit(JobError):
    def __init__(self, active: int, limit: int, retry_after_s: int) -> None:
        super().__init__(
            f"you already have {active} jobs queued or running; at most {limit} per person. "
            "Wait for one to finish or cancel one"
        )
        self.retry_after_s = retry_after_s


class JobTooLarge(JobError):
    """The request's cost is over the per-job bound (a 422 that says the bound)."""


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    user_id: str
    status: str
    request: JobRequest
    total_steps: int
    attempts: int
    cancel_requested: bool
    worker: str | None
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def owner(self) -> str:
        """Whose preferences the job reads and writes: the profile its request names (a named
        profile's owner key), else the account's default profile. ``user_id`` stays the account:
        it owns the job, and admission counts per account."""
        owner = getattr(self.request, "owner", None)
        return owner if isinstance(owner, str) and owner else self.user_id


@dataclass(frozen=True)
class AdmissionRules:
    """The limits every engine keeps (``api/wiring/jobs.py`` fills them from settings)."""

    per_user: int
    capacity: int
    max_pixel_steps: int


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FairLock:
    """A lock taken in arrival order (tickets), so no waiter starves under contention."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._cond:
            ticket, self._next = self._next, self._next + 1
            self._cond.wait_for(lambda: self._serving == ticket)

    def __exit__(self, *_exc: object) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()


class JobRepository(JobLeases):
    """Durable job state; every method is one short transaction."""

    def __init__(self, engine: Engine, kinds: JobKinds) -> None:
        self._engine = engine
        self.kinds = kinds
        # SQLite has one writer anyway; this keeps check-then-insert whole within the process,
        # first come first served (a plain lock lets unlucky requests wait through a burst).
        self._admission = FairLock()

    @property
    def engine(self) -> Engine:
        return self._engine

    def _job(self, row: JobRow) -> Job:
        try:
            request = self.kinds.parse(row.kind, row.request)
        except ValidationError as error:  # a row written by an older version of the kind
            raise UnknownJobKind(f"job {row.id} has an unreadable request: {error}") from None
        return Job(
            id=row.id,
            kind=row.kind,
            user_id=row.user_id,
            status=row.status,
            request=request,
            total_steps=row.total_steps,
            attempts=row.attempts or 0,
            cancel_requested=bool(row.cancel_requested),
            worker=row.worker,
            result=json.loads(row.result) if row.result else None,
            error=row.error,
            created_at=_utc(row.created_at) or utc_now(),
            started_at=_utc(row.started_at),
            finished_at=_utc(row.finished_at),
        )

    # -- admission ---------------------------------------------------------------------------

    def create(
        self, user_id: str, kind: str, request: JobRequest, rules: AdmissionRules | None = None
    ) -> Job:
        """Write a queued job, or refuse it (``UserJobLimit``, ``QueueFull``) without writing."""
        row = JobRow(
            id=new_id(),
            kind=kind,
            user_id=user_id,
            status=QUEUED,
            request=request.model_dump_json(),
            total_steps=request.total_steps(),
            cost=request.pixel_steps(),
            attempts=0,
            cancel_requested=False,
            created_at=utc_now(),
        )
        with self._admission, Session(self._engine) as session, session.begin():
            if session.bind is not None and session.bind.dialect.name == "postgresql":
                # One admission at a time across API nodes, for this transaction only.
                session.execute(text("SELECT pg_advisory_xact_lock(7245190)"))
            if rules is not None:
                self._admit(session, user_id, rules)
            session.add(row)
            session.flush()
            return self._job(row)

    def _admit(self, session: Session, user_id: str, rules: AdmissionRules) -> None:
        active = session.scalar(
            select(func.count()).where(
                JobRow.user_id == user_id, JobRow.status.in_((QUEUED, RUNNING))
            )
        )
        if int(active or 0) >= rules.per_user:
            raise UserJobLimit(int(active or 0), rules.per_user, self._retry_after(session))
        waiting = int(session.scalar(select(func.count()).where(JobRow.status == QUEUED)) or 0)
        if waiting >= rules.capacity:
            retry = self._retry_after(session) * max(1, waiting)
            raise QueueFull(waiting, min(retry, 3_600))

    def _retry_after(self, session: Session) -> int:
        """Seconds one job takes, from the last 20 finished (10 s before any finished)."""
        rows = session.execute(
            select(JobRow.started_at, JobRow.finished_at)
            .where(JobRow.status == DONE, JobRow.started_at.is_not(None))
            .order_by(JobRow.finished_at.desc())
            .limit(20)
        ).all()
        spans = [
            (_utc(end) or _EPOCH) - (_utc(start) or _EPOCH) for start, end in rows if end and start
        ]
        if not spans:
            return 10
        return max(1, int(sum(s.total_seconds() for s in spans) / len(spans)) + 1)

    # -- reads -------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        with Session(self._engine) as session:
            row = session.get(JobRow, job_id)
            return None if row is None else self._job(row)

    def get_for(self, user_id: str, job_id: str) -> Job | None:
        """The job when it is this user's; another user's job looks exactly like none."""
        job = self.get(job_id)
        return job if job is not None and job.user_id == user_id else None

    def recent_for(self, user_id: str, kind: str, limit: int) -> list[Job]:
        """This user's jobs of ``kind``, newest first (a page's history)."""
        with Session(self._engine) as session:
            rows = session.scalars(
                select(JobRow)
                .where(JobRow.user_id == user_id, JobRow.kind == kind)
                .order_by(JobRow.created_at.desc(), JobRow.id.desc())
                .limit(limit)
            ).all()
            return [self._job(row) for row in rows]

    def count(self, status: str) -> int:
        with Session(self._engine) as session:
            return int(session.scalar(select(func.count()).where(JobRow.status == status)) or 0)

    # -- the worker's side -------------------------------------------------------------------

    def claim(self, worker: str, kinds: Collection[str], *, limit: int = 1) -> list[Job]:
        """Queued → running for the fairest job (and up to ``limit - 1`` compatible ones)."""
        for _ in range(20):  # another worker may win a race for the same row: pick again
            first = self._fairest(kinds)
            if first is None:
                return []
            claimed = self._claim_row(first, worker)
            if claimed is None:
                continue
            jobs = [claimed]
            if limit > 1:
                jobs += self._claim_compatible(claimed, worker, limit - 1)
            return jobs
        return []

    def _fairest(self, kinds: Collection[str]) -> str | None:
        with Session(self._engine) as session:
            queued = session.execute(
                select(JobRow.id, JobRow.user_id, JobRow.created_at)
                .where(JobRow.status == QUEUED, JobRow.kind.in_(list(kinds)))
                .order_by(JobRow.created_at, JobRow.id)
            ).all()
            heads: dict[str, tuple[str, datetime]] = {}
            for job_id, user_id, created in queued:
                heads.setdefault(user_id, (job_id, _utc(created) or _EPOCH))
            if not heads:
                return None
            users = list(heads)
            served = dict(
                session.execute(
                    select(JobRow.user_id, func.max(JobRow.started_at))
                    .where(JobRow.user_id.in_(users), JobRow.started_at.is_not(None))
                    .group_by(JobRow.user_id)
                ).all()
            )
            running = dict(
                session.execute(
                    select(JobRow.user_id, func.count())
                    .where(JobRow.user_id.in_(users), JobRow.status == RUNNING)
                    .group_by(JobRow.user_id)
                ).all()
            )
        order = sorted(
            users,
            key=lambda u: (running.get(u, 0), _utc(served.get(u)) or _EPOCH, heads[u][1]),
        )
        return heads[order[0]][0]

    def _claim_row(self, job_id: str, worker: str) -> Job | None:
        now = utc_now()
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == QUEUED)
                .values(
                    status=RUNNING,
                    worker=worker,
                    started_at=now,
                    heartbeat_at=now,
                    attempts=JobRow.attempts + 1,
                )
            )
            if not getattr(result, "rowcount", 0):
                return None
            row = session.get(JobRow, job_id)
            assert row is not None
            return self._job(row)

    def _claim_compatible(self, first: Job, worker: str, room: int) -> list[Job]:
        key = first.request.batch_key()
        with Session(self._engine) as session:
            rows = session.scalars(
                select(JobRow)
                .where(JobRow.status == QUEUED, JobRow.kind == first.kind)
                .order_by(JobRow.created_at, JobRow.id)
            ).all()
            candidates = [self._job(r) for r in rows]
        taken: list[Job] = []
        for job in candidates:
            if len(taken) >= room:
                break
            if job.request.batch_key() == key:
                claimed = self._claim_row(job.id, worker)
                if claimed is not None:
                    taken.append(claimed)
        return taken

    # -- the owner's side --------------------------------------------------------------------

    def cancel(self, user_id: str, job_id: str) -> Job | None:
        """Queued → cancelled at once; running → ``cancel_requested`` (the worker stops it)."""
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.user_id == user_id, JobRow.status == QUEUED)
                .values(status=CANCELLED, error=CANCEL_REASON, finished_at=utc_now())
            )
            session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.user_id == user_id, JobRow.status == RUNNING)
                .values(cancel_requested=True)
            )
        return self.get_for(user_id, job_id)

    # -- recovery ----------------------------------------------------------------------------

    def recover(self) -> list[Job]:
        """Embedded start: fail what was running (with the reason; cancelled when its owner
        had asked), return what is queued."""
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(JobRow)
                .where(JobRow.status == RUNNING, JobRow.cancel_requested.is_(True))
                .values(status=CANCELLED, error=CANCEL_REASON, finished_at=utc_now())
            )
            session.execute(
                update(JobRow)
                .where(JobRow.status == RUNNING)
                .values(status=FAILED, error=RESTART_REASON, finished_at=utc_now())
            )
        with Session(self._engine) as session:
            rows = session.scalars(
                select(JobRow).where(JobRow.status == QUEUED).order_by(JobRow.created_at)
            ).all()
            return [self._job(r) for r in rows]

    def forgotten(self, older_than_s: float, limit: int = 10) -> list[str]:
        """Queued jobs waiting longer than ``older_than_s`` while nothing runs at all: their
        wake-up messages were lost (a broker restarted without persistence)."""
        with Session(self._engine) as session:
            if session.scalar(select(func.count()).where(JobRow.status == RUNNING)):
                return []
            moment = utc_now() - timedelta(seconds=older_than_s)
            return list(
                session.scalars(
                    select(JobRow.id)
                    .where(JobRow.status == QUEUED, JobRow.created_at < moment)
                    .order_by(JobRow.created_at)
                    .limit(limit)
                ).all()
            )
