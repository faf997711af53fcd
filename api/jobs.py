"""Generation jobs in the relational store, so a restart loses none of them.

A job is written as ``queued`` before anyone is told it exists. On start, ``recover`` marks jobs
that were ``running`` when the process died as ``failed`` with a reason (their half-made images
are gone) and returns the ``queued`` ones, oldest first, to be run again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from preference_store.database import Base
from preference_store.models import new_id, utc_now

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
RESTART_REASON = "the service restarted while this generation was running; submit it again"


class JobRow(Base):
    __tablename__ = "generation_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    request: Mapped[str] = mapped_column(Text)
    total_steps: Mapped[int] = mapped_column(Integer)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Job:
    id: str
    user_id: str
    status: str
    request: dict[str, Any]
    total_steps: int
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _to_job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        user_id=row.user_id,
        status=row.status,
        request=json.loads(row.request),
        total_steps=row.total_steps,
        result=json.loads(row.result) if row.result else None,
        error=row.error,
        created_at=_utc(row.created_at) or utc_now(),
        started_at=_utc(row.started_at),
        finished_at=_utc(row.finished_at),
    )


class JobRepository:
    """Durable job state; every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, user_id: str, request: dict[str, Any], total_steps: int) -> Job:
        row = JobRow(
            id=new_id(),
            user_id=user_id,
            status=QUEUED,
            request=json.dumps(request),
            total_steps=total_steps,
            created_at=utc_now(),
        )
        with Session(self._engine) as session, session.begin():
            session.add(row)
            session.flush()
            return _to_job(row)

    def get(self, job_id: str) -> Job | None:
        with Session(self._engine) as session:
            row = session.get(JobRow, job_id)
            return None if row is None else _to_job(row)

    def get_for(self, user_id: str, job_id: str) -> Job | None:
        """The job when it is this user's; another user's job looks exactly like none."""
        job = self.get(job_id)
        return job if job is not None and job.user_id == user_id else None

    def count(self, status: str) -> int:
        with Session(self._engine) as session:
            return int(session.scalar(select(func.count()).where(JobRow.status == status)) or 0)

    def _set(self, job_id: str, **values: Any) -> None:
        with Session(self._engine) as session, session.begin():
            session.execute(update(JobRow).where(JobRow.id == job_id).values(**values))

    def claim(self, job_id: str) -> bool:
        """Queued -> running, atomically: False when the job was not queued (any more)."""
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == QUEUED)
                .values(status=RUNNING, started_at=utc_now())
            )
            return bool(getattr(result, "rowcount", 0))

    def mark_queued(self, job_id: str) -> None:
        self._set(job_id, status=QUEUED, started_at=None)

    def mark_done(self, job_id: str, result: dict[str, Any]) -> None:
        self._set(job_id, status=DONE, result=json.dumps(result), finished_at=utc_now())

    def mark_failed(self, job_id: str, reason: str) -> None:
        self._set(job_id, status=FAILED, error=reason[:2_000], finished_at=utc_now())

    def recover(self) -> list[Job]:
        """After a restart: fail what was running (with the reason), return what is queued."""
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(JobRow)
                .where(JobRow.status == RUNNING)
                .values(status=FAILED, error=RESTART_REASON, finished_at=utc_now())
            )
        with Session(self._engine) as session:
            rows = session.scalars(
                select(JobRow).where(JobRow.status == QUEUED).order_by(JobRow.created_at)
            ).all()
            return [_to_job(r) for r in rows]
