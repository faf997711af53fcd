"""Learned style tokens of a profile: one row per token, the vectors as an opaque blob.

A token belongs to a person and to the text-encoder family and model it was learned for
(vectors of one model mean nothing to another). Each row records the profile version and the
images that trained it; retraining adds a row and never overwrites one, so earlier tokens stay
readable. The blob is a safetensors file made by ``generation`` (this layer stays free of
torch), checked by ``style_blobs`` on every way in; rows travel with the profile export as
base64.

The table is on the shared ``Base`` (``create_all`` makes it today; the Alembic migration is
for the lead to add with the others).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, FiniteFloat, ValidationError
from sqlalchemy import (
    Boolean,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    String,
    Text,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from preference_store.database import Base
from preference_store.errors import InvalidImport, StyleNotFound, problems
from preference_store.models import MAX_VERSION, new_id, utc_now
from preference_store.profiles import owners_in
from preference_store.quota import DEFAULT_QUOTA, Quota
from preference_store.style_blobs import FAMILY_PATTERN, MAX_TOKEN_VECTORS, check_token_blob
from preference_store.text import STORED, Line
from preference_store.versions import Also

MAX_TOKENS_PER_IMPORT = 64
MAX_TRAINING_STEPS = 10_000
MAX_TRAINED_VECTORS = 8  # K a training makes (an imported token may bring up to 75)
MAX_TRAINING_LR = 1.0
MAX_TRAINING_IMAGES = 100
# What a person's style training does unless told otherwise (generation.style_training explains
# the choice); the HTTP body, the CLI and the training config all start from these.
DEFAULT_TRAINING_STEPS = 500
DEFAULT_TRAINED_VECTORS = 1
DEFAULT_TRAINING_LR = 5e-3
# The ids the routes take: ours are uuid4 hex; a dot is allowed for tokens stored before every
# id was ours, so they can still be deleted.
STYLE_ID_PATTERN = r"^[A-Za-z0-9._~-]{1,64}$"


class StyleRecord(BaseModel):
    """What is known about one token, without its vectors; every bound is a column's or the
    trainer's, so a record from an import cannot hold what a trained one could not."""

    id: str = Field(default_factory=new_id)
    user_id: str
    model: Line = Field(min_length=1, max_length=200)
    family: str = Field(
        pattern=FAMILY_PATTERN, description="Text-encoder family, e.g. 'clip_l:768'."
    )
    name: Line = Field(
        min_length=1, max_length=64, description="The token's word, e.g. '<alice-style>'."
    )
    negative: bool = False
    source: Literal["trained", "imported"] = "trained"
    profile_version: int | None = Field(default=None, ge=0, le=MAX_VERSION)
    image_ids: list[Annotated[Line, Field(max_length=200)]] = Field(
        default_factory=list, max_length=MAX_TRAINING_IMAGES
    )
    steps: int = Field(default=0, ge=0, le=MAX_TRAINING_STEPS)
    losses: list[FiniteFloat] = Field(default_factory=list, max_length=MAX_TRAINING_STEPS)
    init_word: Line = Field(default="", max_length=200)
    vectors: int = Field(
        default=1, ge=1, le=MAX_TOKEN_VECTORS, description="K: vectors per text encoder."
    )
    created_at: datetime = Field(default_factory=utc_now)
    cancelled: bool = Field(
        default=False, description="Training was stopped before it finished, at ``steps``."
    )
    chosen_at: datetime | None = Field(
        default=None, description="When `tastemaker style use` made it the default."
    )

    def status(self) -> str:
        """How its training ended, in words (an imported token counts as finished)."""
        return f"cancelled at step {self.steps}" if self.cancelled else f"{self.steps} steps"


def by_preference(records: list[StyleRecord]) -> list[StyleRecord]:
    """The tokens that may be the default, best first: the latest one chosen with `style use`
    or finished training, whichever happened last (a later training beats an earlier choice,
    a later choice beats a training); a cancelled training only when chosen, since a person
    who stopped it did not ask for it."""
    eligible = [r for r in records if r.chosen_at is not None or not r.cancelled]
    return sorted(eligible, key=lambda r: r.chosen_at or r.created_at, reverse=True)


def default_ids(records: list[StyleRecord]) -> set[str]:
    """The id of the default token of each (model, positive/negative) among ``records``."""
    chosen: dict[tuple[str, bool], str] = {}
    for record in by_preference(records):
        chosen.setdefault((record.model, record.negative), record.id)
    return set(chosen.values())


class StyleTokenRow(Base):
    __tablename__ = "style_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(200))
    family: Mapped[str] = mapped_column(String(64))
    negative: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    record: Mapped[str] = mapped_column(Text)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    sequence: Mapped[int] = mapped_column(Integer, default=0)


def _record(row: StyleTokenRow) -> StyleRecord:
    """The row's record; one stored before records were checked and now unreadable becomes a
    bare one (0 vectors, so ``check`` refuses it) that can still be listed and deleted."""
    try:
        record = StyleRecord.model_validate_json(row.record, context=STORED)
    except ValidationError:
        record = StyleRecord.model_construct(
            id=row.id,
            user_id=row.user_id,
            model=row.model,
            family=row.family,
            name="(unreadable record)",
            negative=row.negative,
            source="imported",
            vectors=0,
            created_at=row.created_at,
        )
    for moment in ("created_at", "chosen_at"):
        value = getattr(record, moment)
        if value is not None and value.tzinfo is None:
            record = record.model_copy(update={moment: value.replace(tzinfo=UTC)})
    return record


def check(record: StyleRecord, blob: bytes) -> None:
    """InvalidImport unless ``blob`` holds the ``record.vectors`` vectors its family needs."""
    count = check_token_blob(blob, record.family)
    if count != record.vectors:
        raise InvalidImport(f"the token's record says {record.vectors} vectors; it holds {count}")


def _insert(session: Session, record: StyleRecord, blob: bytes, quota: Quota) -> None:
    """Add the row, within the person's quota of tokens over all their profiles
    (ProfileFull otherwise)."""
    owners = owners_in(session, record.user_id)
    count, size = session.execute(
        select(func.count(), func.coalesce(func.sum(func.length(StyleTokenRow.blob)), 0)).where(
            StyleTokenRow.user_id.in_(owners)
        )
    ).one()
    quota.check_tokens(count + 1, size + len(blob))
    own = session.scalar(
        select(func.count(StyleTokenRow.id)).where(StyleTokenRow.user_id == record.user_id)
    )
    session.add(
        StyleTokenRow(
            id=record.id,
            user_id=record.user_id,
            model=record.model,
            family=record.family,
            negative=record.negative,
            created_at=record.created_at,
            record=record.model_dump_json(),
            blob=blob,
            sequence=(own or 0) + 1,
        )
    )


def parse_tokens(user_id: str, documents: Any) -> list[tuple[StyleRecord, bytes]]:
    """Validate exported tokens before anything is stored (InvalidImport otherwise); each
    gets a new id of ours (a document's ids are not trusted)."""
    if not isinstance(documents, list) or len(documents) > MAX_TOKENS_PER_IMPORT:
        raise InvalidImport(f"style_tokens must be a list of at most {MAX_TOKENS_PER_IMPORT}")
    parsed = []
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            raise InvalidImport("each style token must be a JSON object")
        try:
            blob = base64.b64decode(str(document.get("blob", "")), validate=True)
            body = {k: v for k, v in document.items() if k not in ("blob", "id", "user_id")}
            record = StyleRecord.model_validate({**body, "user_id": user_id})
            record = record.model_copy(update={"vectors": check_token_blob(blob, record.family)})
        except ValidationError as error:
            raise InvalidImport(f"style token {index + 1}: {problems(error, 3)}") from None
        except (binascii.Error, ValueError) as error:
            raise InvalidImport(f"style token {index + 1} is malformed: {error}") from None
        except InvalidImport as error:
            raise InvalidImport(f"style token {index + 1}: {error}") from None
        parsed.append((record, blob))
    return parsed


class StyleStore:
    """Add, list, read and delete a person's tokens; newest first."""

    def __init__(self, engine: Engine, quota: Quota = DEFAULT_QUOTA) -> None:
        self.engine = engine
        self.quota = quota

    def add(self, record: StyleRecord, blob: bytes) -> StyleRecord:
        """Store one token, its blob checked first (``K`` is the blob's): every way in comes
        through here."""
        with Session(self.engine) as session, session.begin():
            return self.add_in(session, record, blob)

    def add_in(self, session: Session, record: StyleRecord, blob: bytes) -> StyleRecord:
        """``add`` as part of the caller's transaction (a training job stores its token in the
        transaction that marks the job done)."""
        record = record.model_copy(update={"vectors": check_token_blob(blob, record.family)})
        _insert(session, record, blob, self.quota)
        return record

    def list_tokens(self, user_id: str, *, model: str | None = None) -> list[StyleRecord]:
        query = select(StyleTokenRow).where(StyleTokenRow.user_id == user_id)
        if model is not None:
            query = query.where(StyleTokenRow.model == model)
        query = query.order_by(StyleTokenRow.sequence.desc(), StyleTokenRow.created_at.desc())
        with Session(self.engine) as session:
            return [_record(row) for row in session.scalars(query)]

    def get(self, user_id: str, token_id: str) -> tuple[StyleRecord, bytes]:
        with Session(self.engine) as session:
            row = session.get(StyleTokenRow, token_id)
            if row is None or row.user_id != user_id:
                raise StyleNotFound(token_id)
            return _record(row), bytes(row.blob)

    def latest(
        self, user_id: str, model: str | None, *, negative: bool = False
    ) -> tuple[StyleRecord, bytes] | None:
        """The default token for this model (any model when None), the one generation uses:
        see ``by_preference``."""
        for record in by_preference(self.list_tokens(user_id, model=model)):
            if record.negative == negative:
                return self.get(user_id, record.id)
        return None

    def choose(self, user_id: str, token_id: str) -> StyleRecord:
        """Make the token the default for its model and polarity (persisted in its record)."""
        with Session(self.engine) as session, session.begin():
            row = session.get(StyleTokenRow, token_id)
            if row is None or row.user_id != user_id:
                raise StyleNotFound(token_id)
            record = _record(row).model_copy(update={"chosen_at": utc_now()})
            row.record = record.model_dump_json()
            return record

    def same_as(self, record: StyleRecord, blob: bytes) -> StyleRecord | None:
        """The user's stored token with this model, polarity, name and vectors, if any (so a
        file imported twice is stored once)."""
        digest = hashlib.sha256(blob).digest()
        query = select(StyleTokenRow).where(
            StyleTokenRow.user_id == record.user_id,
            StyleTokenRow.model == record.model,
            StyleTokenRow.negative == record.negative,
        )
        with Session(self.engine) as session:
            for row in session.scalars(query):
                found = _record(row)
                if found.name == record.name and hashlib.sha256(row.blob).digest() == digest:
                    return found
        return None

    def delete(self, user_id: str, token_id: str) -> None:
        self.get(user_id, token_id)
        with Session(self.engine) as session, session.begin():
            session.execute(delete(StyleTokenRow).where(StyleTokenRow.id == token_id))

    def delete_user(self, user_id: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(delete(StyleTokenRow).where(StyleTokenRow.user_id == user_id))

    # -- travel with the profile export ---------------------------------------------------------

    def export(self, user_id: str) -> list[dict[str, Any]]:
        """Every usable token of the user, oldest first, blobs as base64 (for the profile JSON);
        one stored before tokens were checked, which no import would take, is left out."""
        out = []
        for record in reversed(self.list_tokens(user_id)):
            _, blob = self.get(user_id, record.id)
            try:
                check(record, blob)
            except InvalidImport:
                continue
            document = json.loads(record.model_dump_json())
            document["blob"] = base64.b64encode(blob).decode("ascii")
            out.append(document)
        return out

    def restore(self, user_id: str, tokens: list[tuple[StyleRecord, bytes]]) -> Also:
        """The writes that store the checked ``tokens`` the user does not have yet (same model
        and vectors), for the transaction of the import's version."""

        def write(session: Session) -> None:
            rows = session.scalars(select(StyleTokenRow).where(StyleTokenRow.user_id == user_id))
            have = {(r.model, r.negative, hashlib.sha256(r.blob).digest()) for r in rows}
            for record, blob in tokens:
                key = (record.model, record.negative, hashlib.sha256(blob).digest())
                if key not in have:
                    have.add(key)
                    _insert(session, record, blob, self.quota)
                    session.flush()  # the next one's sequence counts this one

        return write

    def write(self, writes: Also) -> None:
        """``writes`` (from ``restore``) in a transaction of their own."""
        with Session(self.engine) as session, session.begin():
            writes(session)
