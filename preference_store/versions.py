"""Profile versions in the relational store: one immutable snapshot per change.

The newest snapshot is the user's current profile: reading it is one indexed row, however many
users there are (a chromadb metadata filter slows down as the collection grows, see
bench/store.py). A unique (user, version) constraint turns concurrent writers into a retry
instead of a lost update, and a unique (user, origin) constraint makes a write that names its
origin (an onboarding session, say) happen once however often it is retried. The history is
bounded (``preference_store.quota``): the oldest versions beyond it are compacted away.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    cast,
    delete,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from preference_store.change_stamp import ChangeStamp
from preference_store.database import Base
from preference_store.errors import VersionNotFound
from preference_store.models import Profile, ProfileVersionInfo, VisualAttribute, utc_now
from preference_store.quota import DEFAULT_QUOTA, Quota
from preference_store.text import STORED

Also = Callable[[Session], None]
"""More writes that must commit (or not) with a new version, in its transaction."""


def _as_utc(moment: datetime) -> datetime:
    """SQLite drops the zone on the way back; every time here was written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


PARSED_CACHE_SIZE = 4096
VersionKey = tuple[int, datetime]  # a version's number and write time


class VersionTaken(Exception):
    """Another writer stored this version number first."""

    def __init__(self, user_id: str, version: int) -> None:
        super().__init__(f"version {version} of {user_id!r} was written concurrently")


class ProfileVersionRow(Base):
    __tablename__ = "profile_versions"
    __table_args__ = (
        UniqueConstraint("user_id", "version", name="uq_profile_version"),
        UniqueConstraint("user_id", "origin", name="uq_profile_version_origin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    attribute_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    snapshot: Mapped[str] = mapped_column(Text)
    # What made this version, when that must happen once (e.g. "onboarding:<session id>").
    origin: Mapped[str | None] = mapped_column(String(100), nullable=True)


# The hottest query (every profile read): built once, so a read does not construct and hash a
# new statement each time.
_NEWEST = (
    select(ProfileVersionRow.version, ProfileVersionRow.created_at)
    .where(ProfileVersionRow.user_id == bindparam("user_id"))
    .order_by(ProfileVersionRow.version.desc())
    .limit(1)
)


class VersionLog:
    """History of profile snapshots: versions are never changed, only the oldest compacted."""

    def __init__(self, engine: Engine, quota: Quota = DEFAULT_QUOTA) -> None:
        self._engine = engine
        self._quota = quota
        self._parsed: dict[tuple[str, int, datetime], Profile] = {}
        # SQLite: each user's newest version as of a change stamp (preference_store/change_stamp.py)
        self._changes = ChangeStamp(engine) if ChangeStamp.applies(engine) else None
        self._newest: dict[str, tuple[int, VersionKey | None]] = {}

    def newest(self, user_id: str) -> VersionKey | None:
        """Which version is current (number and write time: a user deleted and made again
        gets new times), or None: one indexed row, which also sees other processes' writes.
        On SQLite the row is read again only once anything was committed since it was read."""
        stamp = self._changes.stamp() if self._changes is not None else None  # before the row
        if stamp is not None:
            hit = self._newest.get(user_id)
            if hit is not None and hit[0] == stamp:
                return hit[1]
        with self._engine.connect() as connection:
            row = connection.execute(_NEWEST, {"user_id": user_id}).first()
        key = None if row is None else (row.version, row.created_at)
        if stamp is not None:
            if len(self._newest) >= PARSED_CACHE_SIZE:
                self._newest.clear()
            self._newest[user_id] = (stamp, key)
        return key

    def latest(self, user_id: str) -> Profile | None:
        """The newest version. A written version never changes, so each is parsed once and
        kept (a bounded cache keyed by user and ``newest``); a read is then one indexed
        look-up."""
        newest = self.newest(user_id)
        if newest is None:
            return None
        key = (user_id, *newest)
        cached = self._parsed.get(key)
        if cached is None:
            cached = self.get(user_id, newest[0])
            if len(self._parsed) >= PARSED_CACHE_SIZE:
                self._parsed.clear()
            self._parsed[key] = cached
        return cached

    def append(
        self, profile: Profile, reason: str, *, origin: str | None = None, also: Also | None = None
    ) -> Profile:
        """Store ``profile`` as version ``profile.version`` (and ``also``'s writes, in the same
        transaction); returns it with its time.

        Raises ``VersionTaken`` when another writer stored that number (or that ``origin``)
        first: the caller looks again and recomputes its change on the newer version; and
        ``ProfileFull`` for a snapshot over ``max_profile_bytes`` that does not shrink it.
        """
        stamped = profile.model_copy(update={"updated_at": utc_now()})
        snapshot = stamped.model_dump_json(exclude={"aesthetic_embeddings"})
        size = len(snapshot.encode())
        if size > self._quota.max_profile_bytes:  # looked up only then: a rare, slower path
            self._quota.check_size(profile.user_id, size, self._newest_size(profile.user_id))
        row = ProfileVersionRow(
            user_id=profile.user_id,
            version=profile.version,
            reason=reason[:200],
            attribute_count=len(profile.attributes),
            created_at=stamped.updated_at,
            snapshot=snapshot,
            origin=origin,
        )
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
                if also is not None:
                    also(session)
        except IntegrityError as error:
            raise VersionTaken(profile.user_id, profile.version) from error
        return stamped

    def _size(self) -> ColumnElement[int]:
        """A snapshot's size in bytes, read without parsing it."""
        if self._engine.dialect.name == "postgresql":
            return func.octet_length(ProfileVersionRow.snapshot)
        return func.length(cast(ProfileVersionRow.snapshot, LargeBinary))

    def _newest_size(self, user_id: str) -> int | None:
        with self._engine.connect() as connection:
            size: int | None = connection.scalar(
                select(self._size())
                .where(ProfileVersionRow.user_id == user_id)
                .order_by(ProfileVersionRow.version.desc())
                .limit(1)
            )
        return size

    def compact(self, user_id: str, others: Sequence[str] = ()) -> list[int]:
        """Delete the versions history no longer keeps (the oldest beyond the quota's count or
        bytes, the history of the person's ``others`` profiles counted in; never the newest);
        returns their numbers. A version an ``origin`` made goes with them, so an onboarding
        retried after that many newer writes would apply again."""
        with Session(self._engine) as session, session.begin():
            elsewhere = 0
            if others:
                elsewhere = int(
                    session.scalar(
                        select(func.coalesce(func.sum(self._size()), 0)).where(
                            ProfileVersionRow.user_id.in_(list(others))
                        )
                    )
                    or 0
                )
            rows = session.execute(
                select(ProfileVersionRow.version, self._size())
                .where(ProfileVersionRow.user_id == user_id)
                .order_by(ProfileVersionRow.version.desc())
            ).all()
            kept = self._quota.kept([int(size or 0) for _, size in rows], elsewhere)
            dropped = [int(version) for version, _ in rows[kept:]]
            if dropped:
                session.execute(
                    delete(ProfileVersionRow).where(
                        ProfileVersionRow.user_id == user_id,
                        ProfileVersionRow.version <= dropped[0],
                    )
                )
        return dropped

    def version_from(self, user_id: str, origin: str) -> int | None:
        """The version ``origin`` already made, if it made one."""
        with self._engine.connect() as connection:
            version: int | None = connection.scalar(
                select(ProfileVersionRow.version).where(
                    ProfileVersionRow.user_id == user_id, ProfileVersionRow.origin == origin
                )
            )
        return version

    def list(self, user_id: str) -> list[ProfileVersionInfo]:
        with Session(self._engine) as session:
            rows = session.execute(
                select(
                    ProfileVersionRow.version,
                    ProfileVersionRow.created_at,
                    ProfileVersionRow.reason,
                    ProfileVersionRow.attribute_count,
                )
                .where(ProfileVersionRow.user_id == user_id)
                .order_by(ProfileVersionRow.version)
            ).all()
        return [
            ProfileVersionInfo(
                version=r.version,
                created_at=_as_utc(r.created_at),
                reason=r.reason,
                attribute_count=r.attribute_count,
            )
            for r in rows
        ]

    def get(self, user_id: str, version: int) -> Profile:
        with self._engine.connect() as session:
            snapshot = session.scalar(
                select(ProfileVersionRow.snapshot).where(
                    ProfileVersionRow.user_id == user_id, ProfileVersionRow.version == version
                )
            )
        if snapshot is None:
            raise VersionNotFound(version)
        return Profile.model_validate_json(snapshot, context=STORED)

    def delete_user(self, user_id: str) -> None:
        with Session(self._engine) as session, session.begin():
            session.query(ProfileVersionRow).filter(ProfileVersionRow.user_id == user_id).delete()


DIFFED_FIELDS = ("text", "category", "polarity", "strength")


class AttributeChange(BaseModel):
    """One attribute present in both versions (same id) whose visible fields differ."""

    before: VisualAttribute
    after: VisualAttribute
    fields: list[str] = Field(description="Which of text, category, polarity, strength changed.")


class ProfileDiff(BaseModel):
    """What changed between two versions of one profile, attribute by attribute (by id)."""

    user_id: str
    from_version: int
    to_version: int
    added: list[VisualAttribute] = Field(default_factory=list)
    removed: list[VisualAttribute] = Field(default_factory=list)
    changed: list[AttributeChange] = Field(default_factory=list)
    liked_images_added: list[str] = Field(default_factory=list)
    liked_images_removed: list[str] = Field(default_factory=list)
    disliked_images_added: list[str] = Field(default_factory=list)
    disliked_images_removed: list[str] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.added,
                self.removed,
                self.changed,
                self.liked_images_added,
                self.liked_images_removed,
                self.disliked_images_added,
                self.disliked_images_removed,
            )
        )


def diff_profiles(old: Profile, new: Profile) -> ProfileDiff:
    """Attributes added, removed and changed from ``old`` to ``new`` (matched by id, in the
    newer version's order), and the image reactions added and removed."""
    before = {a.id: a for a in old.attributes}
    after = {a.id: a for a in new.attributes}
    changed = []
    for attribute in new.attributes:
        previous = before.get(attribute.id)
        if previous is None:
            continue
        fields = [f for f in DIFFED_FIELDS if getattr(previous, f) != getattr(attribute, f)]
        if fields:
            changed.append(AttributeChange(before=previous, after=attribute, fields=fields))
    old_liked = {r.image_id for r in old.liked_images}
    new_liked = {r.image_id for r in new.liked_images}
    old_disliked = {r.image_id for r in old.disliked_images}
    new_disliked = {r.image_id for r in new.disliked_images}
    return ProfileDiff(
        user_id=new.user_id,
        from_version=old.version,
        to_version=new.version,
        added=[a for a in new.attributes if a.id not in before],
        removed=[a for a in old.attributes if a.id not in after],
        changed=changed,
        liked_images_added=sorted(new_liked - old_liked),
        liked_images_removed=sorted(old_liked - new_liked),
        disliked_images_added=sorted(new_disliked - old_disliked),
        disliked_images_removed=sorted(old_disliked - new_disliked),
    )
