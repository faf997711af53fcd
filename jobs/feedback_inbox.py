"""Feedback on generations is written down before any model reads it.

A comment may go to an LLM that hangs or fails; the person's words must survive that and a
restart (docs/design.md, "Reliability rules"). Each feedback is a row, committed first and marked
applied once the profile has its new version; rows still pending at start-up are applied then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Engine, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from preference_store.database import Base
from preference_store.models import new_id, utc_now

log = logging.getLogger(__name__)


class FeedbackRow(Base):
    __tablename__ = "generation_feedback"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    liked: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    applied_version: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class PendingFeedback:
    id: str
    job_id: str
    user_id: str
    liked: bool
    comment: str | None


class FeedbackInbox:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, job_id: str, user_id: str, liked: bool, comment: str | None) -> str:
        """Commit the feedback; returns its id."""
        feedback_id = new_id()
        with Session(self._engine) as session, session.begin():
            session.add(
                FeedbackRow(
                    id=feedback_id,
                    job_id=job_id,
                    user_id=user_id,
                    liked=liked,
                    comment=comment,
                    created_at=utc_now(),
                )
            )
        return feedback_id

    def mark_applied(self, feedback_id: str, version: int) -> None:
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(FeedbackRow)
                .where(FeedbackRow.id == feedback_id)
                .values(applied_version=version)
            )

    def pending(self) -> list[PendingFeedback]:
        with Session(self._engine) as session:
            rows = session.scalars(
                select(FeedbackRow)
                .where(FeedbackRow.applied_version.is_(None))
                .order_by(FeedbackRow.created_at)
            ).all()
            return [PendingFeedback(r.id, r.job_id, r.user_id, r.liked, r.comment) for r in rows]
