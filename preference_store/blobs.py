"""Blobs (generated PNGs, and later style tokens and adapters) by key, behind one small interface.

Embedded mode keeps them as files under the data dir; distributed mode keeps them in the
relational database, so any API node serves an image whichever worker made it. An
S3-compatible bucket would be a third implementation of ``BlobStore``.

Keys are ``/``-separated paths of plain segments (``generations/<job>/image-0.png``).
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import DateTime, Engine, Integer, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from preference_store.database import Base
from preference_store.models import utc_now

MAX_KEY_CHARS = 512
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def check_key(key: str) -> str:
    """A key is 1-512 characters of ``/``-separated segments of letters, digits, ``_ . -``;
    no empty, hidden or ``..`` segment, so a key can never leave a file store's root."""
    segments = key.split("/")
    if len(key) > MAX_KEY_CHARS or not all(_SEGMENT.match(s) for s in segments):
        raise ValueError(f"not a blob key: {key!r}")
    return key


class BlobStore(Protocol):
    """Bytes by key. ``get`` answers None for a key that is not there; a ``prefix`` is a
    folder (``generations/``), or empty for everything."""

    def put(self, key: str, data: bytes) -> None: ...

    def put_in(self, session: Session, key: str, data: bytes) -> None:
        """``put`` as part of the caller's transaction on this database (a job's results are
        stored by the transaction that marks it done)."""
        ...

    def get(self, key: str) -> bytes | None: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str = "") -> list[str]: ...

    def purge(self, prefix: str, before: datetime) -> int:
        """Delete the blobs under ``prefix`` written before ``before``; returns how many."""
        ...


class FileBlobStore:
    """One file per key under ``root``; a write lands whole or not at all (rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def put_in(self, session: Session, key: str, data: bytes) -> None:
        """A file is no row: written now, whole. The caller holds the lock that fences it (a
        job's guarded update) until its commit; a rollback after it leaves the file for the
        job's next attempt to overwrite."""
        del session
        self.put(key, data)

    def get(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def _files(self, prefix: str) -> list[Path]:
        base = self.root / prefix.rstrip("/") if prefix else self.root
        if base.is_file():
            return [base]
        if not base.is_dir():
            return []
        return [p for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")]

    def list(self, prefix: str = "") -> list[str]:
        return sorted(p.relative_to(self.root).as_posix() for p in self._files(prefix))

    def purge(self, prefix: str, before: datetime) -> int:
        cutoff = before.timestamp()
        removed = 0
        for path in self._files(prefix):
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        pattern = f"{prefix.rstrip('/')}/**/" if prefix.strip("/") else "**/"
        for folder in sorted(self.root.glob(pattern), reverse=True):
            if folder != self.root and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        return removed


class BlobRow(Base):
    __tablename__ = "blobs"

    key: Mapped[str] = mapped_column(String(MAX_KEY_CHARS), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SqlBlobStore:
    """Blobs as rows of the relational database every node already reaches (PostgreSQL in
    distributed mode). Fine for images of a few hundred KB; a bucket suits larger files."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def put(self, key: str, data: bytes) -> None:
        with Session(self._engine) as session, session.begin():
            self.put_in(session, key, data)

    def put_in(self, session: Session, key: str, data: bytes) -> None:
        session.merge(BlobRow(key=check_key(key), data=data, size=len(data), created_at=utc_now()))

    def get(self, key: str) -> bytes | None:
        with self._engine.connect() as connection:
            data = connection.scalar(select(BlobRow.data).where(BlobRow.key == check_key(key)))
        return None if data is None else bytes(data)

    def delete(self, key: str) -> None:
        with Session(self._engine) as session, session.begin():
            session.execute(delete(BlobRow).where(BlobRow.key == check_key(key)))

    def list(self, prefix: str = "") -> list[str]:
        with self._engine.connect() as connection:
            keys = connection.scalars(
                select(BlobRow.key).where(BlobRow.key.startswith(prefix, autoescape=True))
            ).all()
        return sorted(keys)

    def purge(self, prefix: str, before: datetime) -> int:
        moment = before if before.tzinfo else before.replace(tzinfo=UTC)
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                delete(BlobRow).where(
                    BlobRow.key.startswith(prefix, autoescape=True), BlobRow.created_at < moment
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)
