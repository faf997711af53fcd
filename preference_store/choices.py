"""Choices between two images, and the taste model trained on them (design.md, "Taste from
choices"), in two tables of the relational database.

``taste_pairs``: every pair shown to a person, and the answer once given (left, right,
neither, skip), with the model's P(left) when it was shown, so the running agreement can be
told. A like or dislike of a generated image is a row too (``left`` the image, no ``right``,
``like``/``dislike``, the taste match then). ``taste_models``: the trained model per feature
space, a few KB, its ``version`` raised at every retrain. Both travel with the profile export
(``taste`` key) and are only ever read through the owner's id.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import DateTime, Engine, Float, Integer, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from preference_store.database import Base
from preference_store.errors import InvalidImport, PairAnswered, PairNotFound, problems
from preference_store.models import new_id, utc_now
from preference_store.taste import TasteModel
from preference_store.text import Line
from preference_store.versions import Also

Answer = Literal["left", "right", "neither", "skip", "like", "dislike"]
PAIR_ANSWERS: tuple[Answer, ...] = ("left", "right", "neither", "skip")
MAX_CHOICES_PER_IMPORT = 2000
MAX_MODELS_PER_IMPORT = 8
PAIR_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class Choice(BaseModel):
    """One pair shown (or one generated image reacted to) and its answer."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_id, pattern=PAIR_ID_PATTERN)
    user_id: str
    session_id: Line | None = Field(default=None, max_length=64)
    left: Line = Field(min_length=1, max_length=200)
    right: Line | None = Field(default=None, max_length=200)
    answer: Answer | None = None
    predicted: float | None = Field(
        default=None, ge=0.0, le=1.0, description="P(left) (or the taste match) when shown."
    )
    created_at: datetime = Field(default_factory=utc_now)
    answered_at: datetime | None = None
    feature_space: Line | None = Field(default=None, max_length=400)
    features: str | None = Field(
        default=None,
        max_length=20_000,
        description="A reacted-to image's feature row (float16, base64): it is no gallery "
        "image, so training reads it from here.",
    )

    def agreed(self) -> bool | None:
        """Whether the answer went the way the model predicted (None: nothing to compare)."""
        if self.predicted is None or self.predicted == 0.5:
            return None
        if self.answer in ("left", "like"):
            return self.predicted > 0.5
        if self.answer in ("right", "dislike"):
            return self.predicted < 0.5
        return None


class TastePairRow(Base):
    __tablename__ = "taste_pairs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    left_id: Mapped[str] = mapped_column(String(200))
    right_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    answer: Mapped[str | None] = mapped_column(String(16), nullable=True)
    predicted: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    feature_space: Mapped[str | None] = mapped_column(String(400), nullable=True)
    features: Mapped[str | None] = mapped_column(Text, nullable=True)


class TasteModelRow(Base):
    __tablename__ = "taste_models"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    feature_space: Mapped[str] = mapped_column(String(400), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    record: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _choice(row: TastePairRow) -> Choice:
    return Choice.model_construct(
        id=row.id,
        user_id=row.user_id,
        session_id=row.session_id,
        left=row.left_id,
        right=row.right_id,
        answer=row.answer,  # type: ignore[arg-type]  # the column holds an Answer
        predicted=row.predicted,
        created_at=_utc(row.created_at),
        answered_at=None if row.answered_at is None else _utc(row.answered_at),
        feature_space=row.feature_space,
        features=row.features,
    )


def _row(choice: Choice, sequence: int) -> TastePairRow:
    return TastePairRow(
        id=choice.id,
        user_id=choice.user_id,
        session_id=choice.session_id,
        left_id=choice.left,
        right_id=choice.right,
        answer=choice.answer,
        predicted=choice.predicted,
        created_at=choice.created_at,
        answered_at=choice.answered_at,
        sequence=sequence,
        feature_space=choice.feature_space,
        features=choice.features,
    )


class ChoiceStore:
    """Pairs shown, answers, and the trained models, per person."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _next_sequence(self, session: Session, user_id: str) -> int:
        found = session.scalar(
            select(func.coalesce(func.max(TastePairRow.sequence), 0)).where(
                TastePairRow.user_id == user_id
            )
        )
        return int(found or 0) + 1

    def add(self, choice: Choice) -> Choice:
        """Store a pair just shown (no answer yet) or a reaction (answered)."""
        with Session(self.engine) as session, session.begin():
            session.add(_row(choice, self._next_sequence(session, choice.user_id)))
        return choice

    def history(self, user_id: str) -> list[Choice]:
        """Everything shown to the person, oldest first."""
        query = (
            select(TastePairRow)
            .where(TastePairRow.user_id == user_id)
            .order_by(TastePairRow.sequence)
        )
        with Session(self.engine) as session:
            return [_choice(row) for row in session.scalars(query)]

    def pending(self, user_id: str, session_id: str | None) -> Choice | None:
        """The latest pair shown in this session and not answered yet."""
        query = (
            select(TastePairRow)
            .where(
                TastePairRow.user_id == user_id,
                TastePairRow.session_id == session_id,
                TastePairRow.answer.is_(None),
                TastePairRow.right_id.is_not(None),
            )
            .order_by(TastePairRow.sequence.desc())
            .limit(1)
        )
        with Session(self.engine) as session:
            row = session.scalars(query).first()
            return None if row is None else _choice(row)

    def answer(
        self, user_id: str, pair_id: str, answer: Answer, *, session_id: str | None = None
    ) -> Choice:
        """Record the answer to a pair shown to this person (in this session, when given):
        PairNotFound for any other pair, PairAnswered for one answered before."""
        if answer not in PAIR_ANSWERS:
            raise ValueError(f"a pair's answer is one of {', '.join(PAIR_ANSWERS)}")
        with Session(self.engine) as session, session.begin():
            row = session.get(TastePairRow, pair_id, with_for_update=True)
            if (
                row is None
                or row.user_id != user_id
                or row.right_id is None
                or (session_id is not None and row.session_id != session_id)
            ):
                raise PairNotFound(pair_id)
            if row.answer is not None:
                raise PairAnswered(pair_id, row.answer)
            row.answer = answer
            row.answered_at = utc_now()
            return _choice(row)

    def forget_reaction(self, user_id: str, image_id: str) -> None:
        """Drop the person's like/dislike of ``image_id`` (a later one replaces it)."""
        with Session(self.engine) as session, session.begin():
            session.execute(
                delete(TastePairRow).where(
                    TastePairRow.user_id == user_id,
                    TastePairRow.left_id == image_id,
                    TastePairRow.right_id.is_(None),
                )
            )

    def write(self, writes: Also) -> None:
        """``writes`` (from ``restore_taste``) in a transaction of their own."""
        with Session(self.engine) as session, session.begin():
            writes(session)

    def delete_user(self, user_id: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(delete(TastePairRow).where(TastePairRow.user_id == user_id))
            session.execute(delete(TasteModelRow).where(TasteModelRow.user_id == user_id))

    # -- the trained model ---------------------------------------------------------------------

    def model(self, user_id: str, feature_space: str) -> TasteModel | None:
        with Session(self.engine) as session:
            row = session.get(TasteModelRow, (user_id, feature_space))
            if row is None:
                return None
            try:
                return TasteModel.from_record(json.loads(row.record))
            except ValueError:
                return None  # unreadable: retrained from the choices at the next use

    def save_model(self, user_id: str, model: TasteModel) -> TasteModel:
        """Store ``model`` as the next version for its feature space."""
        with Session(self.engine) as session, session.begin():
            row = session.get(TasteModelRow, (user_id, model.feature_space))
            version = (row.version if row is not None else 0) + 1
            saved = TasteModel(
                model.weights, model.center, model.feature_space, model.choices, version
            )
            record = json.dumps(saved.to_record())
            if row is None:
                session.add(
                    TasteModelRow(
                        user_id=user_id,
                        feature_space=model.feature_space,
                        version=version,
                        record=record,
                        updated_at=utc_now(),
                    )
                )
            else:
                row.version, row.record, row.updated_at = version, record, utc_now()
            return saved

    # -- travel with the profile export ------------------------------------------------------

    def export(self, user_id: str) -> dict[str, Any]:
        """The person's choices and models for the profile document (empty when none)."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(TasteModelRow)
                .where(TasteModelRow.user_id == user_id)
                .order_by(TasteModelRow.feature_space)
            )
            models = [json.loads(row.record) for row in rows]
        choices = [
            c.model_dump(mode="json", exclude={"user_id"})
            for c in self.history(user_id)
            if c.answer is not None
        ]
        return {"choices": choices, "models": models} if choices or models else {}


def parse_taste(user_id: str, document: Any) -> tuple[list[Choice], list[TasteModel]]:
    """The choices and models of an export's ``taste`` part, checked (InvalidImport)."""
    if document in (None, {}):
        return [], []
    if not isinstance(document, dict) or set(document) - {"choices", "models"}:
        raise InvalidImport("taste: an object with 'choices' and 'models'")
    raw_choices = document.get("choices") or []
    raw_models = document.get("models") or []
    if not isinstance(raw_choices, list) or len(raw_choices) > MAX_CHOICES_PER_IMPORT:
        raise InvalidImport(f"taste.choices: a list of at most {MAX_CHOICES_PER_IMPORT}")
    if not isinstance(raw_models, list) or len(raw_models) > MAX_MODELS_PER_IMPORT:
        raise InvalidImport(f"taste.models: a list of at most {MAX_MODELS_PER_IMPORT}")
    try:
        choices = [
            Choice.model_validate({**c, "user_id": user_id}) if isinstance(c, dict) else None
            for c in raw_choices
        ]
    except ValidationError as error:
        raise InvalidImport(f"taste.choices is malformed: {problems(error, 3)}") from error
    if any(c is None or c.answer is None for c in choices):
        raise InvalidImport("taste.choices: each is an answered pair")
    models = []
    for raw in raw_models:
        try:
            models.append(TasteModel.from_record(raw if isinstance(raw, dict) else {}))
        except ValueError as error:
            raise InvalidImport(f"taste.models: {error}") from error
    return [c for c in choices if c is not None], models


def restore_taste(user_id: str, choices: list[Choice], models: list[TasteModel]) -> Also:
    """The writes adding the choices the person lacks (by id) and replacing the models of the
    same feature spaces, for the import's transaction."""

    def write(session: Session) -> None:
        have = set(session.scalars(select(TastePairRow.id).where(TastePairRow.user_id == user_id)))
        taken = set(session.scalars(select(TastePairRow.id).where(TastePairRow.id.in_(
            [c.id for c in choices if c.id not in have]
        ))))  # fmt: skip
        sequence = int(
            session.scalar(
                select(func.coalesce(func.max(TastePairRow.sequence), 0)).where(
                    TastePairRow.user_id == user_id
                )
            )
            or 0
        )
        for choice in choices:
            if choice.id in taken:  # another person's id: this one gets its own, the same
                # at every import of this document, so importing twice adds nothing
                digest = hashlib.sha256(f"{user_id}/{choice.id}".encode()).hexdigest()[:32]
                choice = choice.model_copy(update={"id": digest})
            if choice.id in have:
                continue
            sequence += 1
            session.add(_row(choice, sequence))
            have.add(choice.id)
        for model in models:
            row = session.get(TasteModelRow, (user_id, model.feature_space))
            record = json.dumps(model.to_record())
            if row is None:
                session.add(
                    TasteModelRow(
                        user_id=user_id,
                        feature_space=model.feature_space,
                        version=model.version,
                        record=record,
                        updated_at=utc_now(),
                    )
                )
            else:
                row.version, row.record, row.updated_at = model.version, record, utc_now()

    return write
