"""Learned style tokens of a profile: one row per token, the vectors as an opaque blob.

A token belongs to a person and to the text-encoder family and model it was learned for
(vectors of one model mean nothing to another). Each row records the profile version and the
images that trained it; retraining adds a row and never overwrites one, so earlier tokens stay
readable. The blob is a safetensors file made by ``generation`` (this layer stays free of
torch); rows travel with the profile export as base64.

The table is on the shared ``Base`` (``create_all`` makes it today; the Alembic migration is
for the lead to add with the others).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import (
    Boolean,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    String,
    Text,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from preference_store.database import Base
from preference_store.errors import InvalidImport, StyleNotFound
from preference_store.models import new_id, utc_now

MAX_BLOB_BYTES = 4 * 1024 * 1024
MAX_TOKENS_PER_IMPORT = 64


class StyleRecord(BaseModel):
    """What is known about one token, without its vectors."""

    id: str = Field(default_factory=new_id)
    user_id: str
    model: str = Field(max_length=200)
    family: str = Field(max_length=64, description="Text-encoder family, e.g. 'clip_l:768'.")
    name: str = Field(max_length=64, description="The token's word, e.g. '<alice-style>'.")
    negative: bool = False
    source: str = Field(default="trained", description="'trained' or 'imported'.")
    profile_version: int | None = None
    image_ids: list[str] = Field(default_factory=list)
    steps: int = 0
    losses: list[float] = Field(default_factory=list)
    init_word: str = ""
    vectors: int = Field(default=1, description="K: vectors per text encoder.")
    created_at: datetime = Field(default_factory=utc_now)


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


def check_blob(blob: bytes) -> None:
    if not blob or len(blob) > MAX_BLOB_BYTES:
        raise InvalidImport(f"a token file must hold 1 byte to {MAX_BLOB_BYTES} bytes")


def _record(row: StyleTokenRow) -> StyleRecord:
    record = StyleRecord.model_validate_json(row.record)
    if record.created_at.tzinfo is None:
        record = record.model_copy(update={"created_at": record.created_at.replace(tzinfo=UTC)})
    return record


class StyleStore:
    """Add, list, read and delete a person's tokens; newest first."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, record: StyleRecord, blob: bytes) -> StyleRecord:
        with Session(self.engine) as session, session.begin():
            self.add_in(session, record, blob)
        return record

    def add_in(self, session: Session, record: StyleRecord, blob: bytes) -> StyleRecord:
        """``add`` as part of the caller's transaction (a training job stores its token in the
        transaction that marks the job done)."""
        check_blob(blob)
        count = session.query(StyleTokenRow).filter_by(user_id=record.user_id).count()
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
                sequence=count + 1,
            )
        )
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
        self, user_id: str, model: str, *, negative: bool = False
    ) -> tuple[StyleRecord, bytes] | None:
        """The newest token for this model (the one generation uses by default)."""
        for record in self.list_tokens(user_id, model=model):
            if record.negative == negative:
                return self.get(user_id, record.id)
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
        """Every token of the user, oldest first, blobs as base64 (for the profile JSON)."""
        out = []
        for record in reversed(self.list_tokens(user_id)):
            _, blob = self.get(user_id, record.id)
            document = json.loads(record.model_dump_json())
            document["blob"] = base64.b64encode(blob).decode("ascii")
            out.append(document)
        return out

    def parse_export(self, user_id: str, documents: Any) -> list[tuple[StyleRecord, bytes]]:
        """Validate exported tokens before anything is stored (InvalidImport otherwise)."""
        if not isinstance(documents, list) or len(documents) > MAX_TOKENS_PER_IMPORT:
            raise InvalidImport(f"style_tokens must be a list of at most {MAX_TOKENS_PER_IMPORT}")
        parsed = []
        for document in documents:
            if not isinstance(document, dict):
                raise InvalidImport("each style token must be a JSON object")
            try:
                blob = base64.b64decode(str(document.get("blob", "")), validate=True)
                body = {k: v for k, v in document.items() if k != "blob"}
                record = StyleRecord.model_validate({**body, "user_id": user_id})
            except (ValidationError, binascii.Error, ValueError) as error:
                raise InvalidImport(f"a style token in the export is malformed: {error}") from error
            if not blob or len(blob) > MAX_BLOB_BYTES:
                raise InvalidImport(f"style token {record.id} has no vectors or too many")
            parsed.append((record, blob))
        return parsed

    def restore(self, user_id: str, tokens: list[tuple[StyleRecord, bytes]]) -> int:
        """Store exported tokens the user does not have yet (same model and vectors); count."""
        have = {
            (
                record.model,
                record.negative,
                hashlib.sha256(self.get(user_id, record.id)[1]).digest(),
            )
            for record in self.list_tokens(user_id)
        }
        added = 0
        for record, blob in tokens:
            key = (record.model, record.negative, hashlib.sha256(blob).digest())
            if key in have:
                continue
            have.add(key)
            with Session(self.engine) as session:
                taken = session.get(StyleTokenRow, record.id) is not None
            self.add(record.model_copy(update={"id": new_id()}) if taken else record, blob)
            added += 1
        return added
