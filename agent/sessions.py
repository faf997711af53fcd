"""Onboarding sessions and every message in them, in the relational database.

A person's message is committed here *before* any extractor sees it; its extraction is written
onto the same row afterwards. A row whose extraction is still empty is pending work, so a new
agent over the same database finishes what a killed one started. Corrections the person makes to
an extraction live in their own table beside the message: the extractor's answer is never
overwritten, so both stay readable (and exportable as labelled data).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from agent.extraction import Extraction
from preference_store.database import Base
from preference_store.models import Category, new_id, utc_now

ACTIVE, FINISHING, FINISHED = "active", "finishing", "finished"
USER, AGENT = "user", "agent"


class OnboardingSessionRow(Base):
    __tablename__ = "onboarding_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    gallery: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    current_image_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    awaiting_followup: Mapped[int] = mapped_column(Integer, default=0)
    profile_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class OnboardingMessageRow(Base):
    __tablename__ = "onboarding_messages"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("onboarding_sessions.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(8))  # user | agent
    kind: Mapped[str] = mapped_column(String(16))  # comment | followup | skip | done | say
    image_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    extraction: Mapped[str | None] = mapped_column(Text, nullable=True)  # Extraction JSON
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class OnboardingCorrectionRow(Base):
    """One correction of one extracted attribute of one message, in the order they were made."""

    __tablename__ = "onboarding_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("onboarding_sessions.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("onboarding_messages.id", ondelete="CASCADE"), index=True
    )
    attribute_index: Mapped[int] = mapped_column(Integer)  # 0-based, into the extraction
    action: Mapped[str] = mapped_column(String(8))  # agent.corrections.ACTIONS
    text: Mapped[str | None] = mapped_column(Text, nullable=True)  # the new text of an edit
    category: Mapped[str | None] = mapped_column(String(16), nullable=True)  # an edit's category
    words: Mapped[str | None] = mapped_column(Text, nullable=True)  # what the person said
    via: Mapped[str] = mapped_column(String(8))  # click | command | words | answer
    said_in: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the person's message
    extractor: Mapped[str] = mapped_column(String(16))  # whose output was corrected
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


@dataclass(frozen=True)
class CorrectionDraft:
    """A correction to make: ``attribute_index`` is 0-based, into the extractor's list."""

    attribute_index: int
    action: str  # agent.corrections.ACTIONS
    text: str | None = None
    category: Category | None = None


@dataclass(frozen=True)
class StoredCorrection:
    """A correction as read back (see ``agent.corrections`` for what each action does)."""

    id: int
    message_id: int
    attribute_index: int
    action: str
    text: str | None
    category: Category | None
    words: str | None
    via: str
    said_in: int | None
    extractor: str


def _to_correction(row: OnboardingCorrectionRow) -> StoredCorrection:
    return StoredCorrection(
        id=row.id,
        message_id=row.message_id,
        attribute_index=row.attribute_index,
        action=row.action,
        text=row.text,
        category=Category(row.category) if row.category else None,
        words=row.words,
        via=row.via,
        said_in=row.said_in,
        extractor=row.extractor,
    )


@dataclass(frozen=True)
class StoredMessage:
    """A message as read back: plain data, detached from the database session."""

    id: int
    seq: int
    role: str
    kind: str
    image_id: str | None
    text: str
    extraction: Extraction | None
    pending: bool  # a user comment whose extraction has not been written yet
    session_id: str = ""


def _to_message(row: OnboardingMessageRow) -> StoredMessage:
    extraction = (
        Extraction.model_validate_json(row.extraction) if row.extraction is not None else None
    )
    return StoredMessage(
        id=row.id,
        seq=row.seq,
        role=row.role,
        kind=row.kind,
        image_id=row.image_id,
        text=row.text,
        extraction=extraction,
        pending=row.role == USER and row.kind in {"comment", "followup"} and extraction is None,
        session_id=row.session_id,
    )


@dataclass(frozen=True)
class SessionInfo:
    id: str
    user_id: str
    gallery: str
    status: str
    current_image_id: str | None
    awaiting_followup: bool
    profile_version: int | None
    # A finish was claimed by a process that is not finishing it now (it died, or it is
    # another process): the session reads as active, and the next turn completes the finish.
    finish_interrupted: bool = False


def _to_info(row: OnboardingSessionRow, finishing_here: Set[str] = frozenset()) -> SessionInfo:
    """A "finishing" claim counts only while this process holds it; any other is
    interrupted. Finishing is idempotent (one version per session, see ``claim_finish``), so
    completing someone else's finish is safe, and nobody waits out a dead process's claim."""
    claimed = row.status == FINISHING
    ours = claimed and row.id in finishing_here
    return SessionInfo(
        id=row.id,
        user_id=row.user_id,
        gallery=row.gallery,
        status=FINISHING if ours else ACTIVE if claimed else row.status,
        current_image_id=row.current_image_id,
        awaiting_followup=bool(row.awaiting_followup),
        profile_version=row.profile_version,
        finish_interrupted=claimed and not ours,
    )


class SessionRepository:
    """Small, explicit transactions over the two tables; each method commits."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._finishing: set[str] = set()  # sessions this process is finishing right now
        self._finishing_lock = threading.Lock()

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    def create(self, user_id: str, gallery: str) -> SessionInfo:
        with self._session() as db, db.begin():
            row = OnboardingSessionRow(user_id=user_id, gallery=gallery)
            db.add(row)
            db.flush()
            return _to_info(row)

    def get(self, session_id: str) -> SessionInfo | None:
        with self._session() as db:
            row = db.get(OnboardingSessionRow, session_id)
            return _to_info(row, self._finishing) if row is not None else None

    def active_for(self, user_id: str) -> SessionInfo | None:
        """The user's most recent unfinished session, if any."""
        with self._session() as db:
            row = db.scalars(
                select(OnboardingSessionRow)
                .where(OnboardingSessionRow.user_id == user_id)
                .where(OnboardingSessionRow.status.in_((ACTIVE, FINISHING)))
                .order_by(OnboardingSessionRow.created_at.desc())
                .limit(1)
            ).first()
            return _to_info(row, self._finishing) if row is not None else None

    def messages(self, session_id: str) -> list[StoredMessage]:
        with self._session() as db:
            rows = db.scalars(
                select(OnboardingMessageRow)
                .where(OnboardingMessageRow.session_id == session_id)
                .order_by(OnboardingMessageRow.seq)
            ).all()
            return [_to_message(r) for r in rows]

    def append(
        self, session_id: str, role: str, kind: str, text: str, image_id: str | None
    ) -> StoredMessage:
        """Commit one message now (the durability point for what a person wrote).

        Two writers racing for the same sequence number: the loser retries with the next one."""
        for attempt in range(3):
            try:
                return self._append_once(session_id, role, kind, text, image_id)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _append_once(
        self, session_id: str, role: str, kind: str, text: str, image_id: str | None
    ) -> StoredMessage:
        with self._session() as db, db.begin():
            last = db.scalar(
                select(OnboardingMessageRow.seq)
                .where(OnboardingMessageRow.session_id == session_id)
                .order_by(OnboardingMessageRow.seq.desc())
                .limit(1)
            )
            row = OnboardingMessageRow(
                session_id=session_id,
                seq=(last or 0) + 1,
                role=role,
                kind=kind,
                text=text,
                image_id=image_id,
            )
            db.add(row)
            session_row = db.get(OnboardingSessionRow, session_id)
            if session_row is not None and session_row.status != FINISHING:
                session_row.updated_at = utc_now()  # (a finishing claim keeps its own time)
            db.flush()
            return _to_message(row)

    def set_extraction(self, message_id: int, extraction: Extraction) -> None:
        with self._session() as db, db.begin():
            row = db.get(OnboardingMessageRow, message_id)
            if row is not None:
                row.extraction = extraction.model_dump_json()

    def add_corrections(
        self,
        session_id: str,
        message_id: int,
        changes: Sequence[CorrectionDraft],
        *,
        words: str | None,
        via: str,
        said_in: int | None,
        extractor: str,
    ) -> None:
        """Commit the corrections of one request together: once this returns, a crash before
        the finish loses nothing (the finish reads every stored correction)."""
        with self._session() as db, db.begin():
            for change in changes:
                db.add(
                    OnboardingCorrectionRow(
                        session_id=session_id,
                        message_id=message_id,
                        attribute_index=change.attribute_index,
                        action=change.action,
                        text=change.text,
                        category=change.category.value if change.category else None,
                        words=words,
                        via=via,
                        said_in=said_in,
                        extractor=extractor,
                    )
                )

    def corrections(self, session_id: str) -> dict[int, list[StoredCorrection]]:
        """Every correction in the session by message id, oldest first."""
        with self._session() as db:
            rows = db.scalars(
                select(OnboardingCorrectionRow)
                .where(OnboardingCorrectionRow.session_id == session_id)
                .order_by(OnboardingCorrectionRow.id)
            ).all()
        found: dict[int, list[StoredCorrection]] = {}
        for row in rows:
            found.setdefault(row.message_id, []).append(_to_correction(row))
        return found

    def corrected_messages(self) -> list[tuple[StoredMessage, list[StoredCorrection]]]:
        """Every message (of any session) that has corrections, with them: the correction log."""
        with self._session() as db:
            rows = db.scalars(
                select(OnboardingCorrectionRow).order_by(OnboardingCorrectionRow.id)
            ).all()
            by_message: dict[int, list[StoredCorrection]] = {}
            for row in rows:
                by_message.setdefault(row.message_id, []).append(_to_correction(row))
            messages = db.scalars(
                select(OnboardingMessageRow)
                .where(OnboardingMessageRow.id.in_(list(by_message)))
                .order_by(OnboardingMessageRow.id)
            ).all()
            return [(_to_message(m), by_message[m.id]) for m in messages]

    def correction_counts(self) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        """Extracted attributes per extractor, and corrections per (extractor, action)."""
        with self._session() as db:
            extractions = db.scalars(
                select(OnboardingMessageRow.extraction).where(
                    OnboardingMessageRow.role == USER,
                    OnboardingMessageRow.extraction.is_not(None),
                )
            ).all()
            counted = db.execute(
                select(
                    OnboardingCorrectionRow.extractor,
                    OnboardingCorrectionRow.action,
                    func.count(),
                ).group_by(OnboardingCorrectionRow.extractor, OnboardingCorrectionRow.action)
            ).all()
        attributes: dict[str, int] = {}
        for raw in extractions:
            if raw is None:
                continue
            extraction = Extraction.model_validate_json(raw)
            name = extraction.extractor
            attributes[name] = attributes.get(name, 0) + len(extraction.attributes)
        return attributes, {(e, a): int(n) for e, a, n in counted}

    def move(self, session_id: str, image_id: str | None, *, awaiting_followup: bool) -> None:
        with self._session() as db, db.begin():
            row = db.get(OnboardingSessionRow, session_id)
            if row is not None:
                row.current_image_id = image_id
                row.awaiting_followup = int(awaiting_followup)
                if row.status != FINISHING:
                    row.updated_at = utc_now()

    def claim_finish(self, session_id: str) -> bool:
        """Mark the session as being finished by this process; False when it is finished
        already, or this process is finishing it right now.

        The claim is no lock across processes: a claim left by another process (dead, or
        alive) never blocks. What makes a finish happen once is the store: the profile version
        is written with the session as its origin, once (``record_onboarding(origin=...)``)."""
        with self._finishing_lock:
            if session_id in self._finishing:
                return False
            self._finishing.add(session_id)
        try:
            with self._session() as db, db.begin():
                result = db.execute(
                    update(OnboardingSessionRow)
                    .where(
                        OnboardingSessionRow.id == session_id,
                        OnboardingSessionRow.status != FINISHED,
                    )
                    .values(status=FINISHING, updated_at=utc_now())
                )
                claimed = bool(getattr(result, "rowcount", 0) == 1)
        except BaseException:
            self._finishing.discard(session_id)
            raise
        if not claimed:
            self._finishing.discard(session_id)
        return claimed

    def release_finish(self, session_id: str) -> None:
        """Give a claim back after a failed finish, so the person can try again."""
        self._finishing.discard(session_id)
        with self._session() as db, db.begin():
            db.execute(
                update(OnboardingSessionRow)
                .where(
                    OnboardingSessionRow.id == session_id,
                    OnboardingSessionRow.status == FINISHING,
                )
                .values(status=ACTIVE, updated_at=utc_now())
            )

    def finish(self, session_id: str, profile_version: int) -> None:
        with self._session() as db, db.begin():
            row = db.get(OnboardingSessionRow, session_id)
            if row is not None:
                row.status = FINISHED
                row.profile_version = profile_version
                row.current_image_id = None
                row.updated_at = utc_now()
        self._finishing.discard(session_id)
