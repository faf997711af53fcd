"""Users and their API tokens in the relational store. Tokens are stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import DateTime, Engine, ForeignKey, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from preference_store.database import Base
from preference_store.errors import UserExists, UserNotFound
from preference_store.models import USER_ID_PATTERN, utc_now

TOKEN_PREFIX = "tm_"


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Who exists, and which token belongs to whom."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def exists(self, user_id: str) -> bool:
        with Session(self._engine) as session:
            return session.get(UserRow, user_id) is not None

    def require(self, user_id: str) -> None:
        if not self.exists(user_id):
            raise UserNotFound(user_id)

    def create(self, user_id: str) -> None:
        if not re.fullmatch(USER_ID_PATTERN, user_id):
            raise ValueError(
                "a user id is 1-64 letters, digits, '_', '.', '@' or '-', starting with a "
                "letter or digit"
            )
        try:
            with Session(self._engine) as session, session.begin():
                session.add(UserRow(id=user_id, created_at=utc_now()))
        except IntegrityError as error:
            raise UserExists(user_id) from error

    def ensure(self, user_id: str) -> bool:
        """Create the user if missing; True when it was created now."""
        if self.exists(user_id):
            return False
        try:
            self.create(user_id)
        except UserExists:
            return False
        return True

    def list(self) -> list[str]:
        with Session(self._engine) as session:
            return list(session.scalars(select(UserRow.id).order_by(UserRow.id)))

    def delete(self, user_id: str) -> None:
        with Session(self._engine) as session, session.begin():
            user = session.get(UserRow, user_id)
            if user is None:
                raise UserNotFound(user_id)
            session.query(ApiTokenRow).filter(ApiTokenRow.user_id == user_id).delete()
            session.delete(user)

    def issue_token(self, user_id: str) -> str:
        """A new bearer token for the user; only its hash is kept, so show it once."""
        self.require(user_id)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with Session(self._engine) as session, session.begin():
            session.add(
                ApiTokenRow(token_hash=hash_token(token), user_id=user_id, created_at=utc_now())
            )
        return token

    def user_for_token(self, token: str) -> str | None:
        with Session(self._engine) as session:
            row = session.get(ApiTokenRow, hash_token(token))
            return None if row is None else row.user_id
