"""Named profiles: a person keeps several tastes (a palette for work, another for zines).

A profile is a preference *owner*: every store is keyed by an owner key, so each profile has
its own attributes, versions, images, embeddings, tokens and taste model with no change to the
stores. The default profile's owner key is the account's user id (nothing existing moves, old
exports still import into it); every other profile gets ``~`` + 32 hex digits, which no user id
can be (``USER_ID_PATTERN`` refuses ``~``), so a profile can never reach an account's data or
another profile's. Only the non-default profiles are rows of ``profiles``.

Resolving (user, name) → owner key happens within the caller's own account, so another
person's profile name is simply not found (docs/design.md, "Named profiles").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, Integer, String, UniqueConstraint, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from preference_store.database import Base
from preference_store.errors import PreferenceError, ProfileFull
from preference_store.models import new_id, utc_now
from preference_store.quota import DEFAULT_QUOTA, Quota

DEFAULT_PROFILE = "default"
PROFILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
PROFILE_NAME_RULE = (
    "a profile name is 1-32 letters, digits, '_' or '-', starting with a letter or digit"
)
OWNER_PREFIX = "~"


class ProfileNotFound(PreferenceError):
    def __init__(self, name: str, user_id: str | None = None) -> None:
        names = f" (`tastemaker profiles list {user_id}` names them)" if user_id else ""
        super().__init__(f"profile {name!r} does not exist{names}")
        self.name = name


class ProfileExists(PreferenceError):
    def __init__(self, name: str) -> None:
        super().__init__(f"profile {name!r} already exists")
        self.name = name


class ProfileRefused(PreferenceError):
    """A name that is not allowed, or a change the default profile cannot take."""


class ProfileRow(Base):
    __tablename__ = "profiles"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_profile_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class NamedProfile:
    """One of a person's profiles: its name and the owner key the stores know it by."""

    name: str
    owner: str
    created_at: datetime | None = None  # None: the default (it exists as long as the account)


def check_name(name: str) -> str:
    if not re.fullmatch(PROFILE_NAME_PATTERN, name):
        raise ProfileRefused(f"{PROFILE_NAME_RULE}; got {name[:40]!r}")
    return name


def is_profile_owner(owner: str) -> bool:
    """True for a non-default profile's owner key (never a user id)."""
    return owner.startswith(OWNER_PREFIX)


def new_owner() -> str:
    """A fresh owner key for a named profile."""
    return OWNER_PREFIX + new_id()


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def owners_in(session: Session, owner: str) -> list[str]:
    """``Profiles.owners`` within the caller's transaction."""
    user = owner
    if is_profile_owner(owner):
        found = session.scalar(select(ProfileRow.user_id).where(ProfileRow.owner == owner))
        user = found if found is not None else owner
    rows = session.scalars(select(ProfileRow.owner).where(ProfileRow.user_id == user))
    return [user, *(r for r in rows if r != user)]


class Profiles:
    """Which profiles a person has, and the owner key of each."""

    def __init__(self, engine: Engine, quota: Quota = DEFAULT_QUOTA) -> None:
        self._engine = engine
        self._quota = quota

    def named(self, user_id: str) -> list[NamedProfile]:
        """The default first, then the others by name."""
        with Session(self._engine) as session:
            rows = session.scalars(
                select(ProfileRow).where(ProfileRow.user_id == user_id).order_by(ProfileRow.name)
            ).all()
            named = [NamedProfile(r.name, r.owner, _utc(r.created_at)) for r in rows]
        return [NamedProfile(DEFAULT_PROFILE, user_id), *named]

    def owner(self, user_id: str, name: str | None) -> str:
        """The owner key of ``user_id``'s profile ``name`` (the default when None);
        ProfileNotFound when the person has no such profile (whoever else might)."""
        if name is None or name == DEFAULT_PROFILE:
            return user_id
        with Session(self._engine) as session:
            owner = session.scalar(
                select(ProfileRow.owner).where(
                    ProfileRow.user_id == user_id, ProfileRow.name == name
                )
            )
        if owner is None:
            raise ProfileNotFound(name, user_id)
        return owner

    def account_of(self, owner: str) -> tuple[str, str]:
        """(user id, profile name) of an owner key (ProfileNotFound when it names none)."""
        if not is_profile_owner(owner):
            return owner, DEFAULT_PROFILE
        with Session(self._engine) as session:
            row = session.scalar(select(ProfileRow).where(ProfileRow.owner == owner))
            if row is None:
                raise ProfileNotFound(owner)
            return row.user_id, row.name

    def owners(self, owner: str) -> list[str]:
        """Every owner key of the person ``owner`` belongs to (itself included): what the
        per-person quota counts together."""
        with Session(self._engine) as session:
            return owners_in(session, owner)

    def create(self, user_id: str, name: str, *, owner: str | None = None) -> NamedProfile:
        """A new empty profile (``owner``: a key made beforehand, e.g. by an import)."""
        check_name(name)
        if name == DEFAULT_PROFILE:
            raise ProfileExists(name)
        try:
            with Session(self._engine) as session, session.begin():
                count = session.scalar(
                    select(func.count(ProfileRow.id)).where(ProfileRow.user_id == user_id)
                )
                if (count or 0) + 2 > self._quota.max_profiles:  # the default counts as one
                    raise ProfileFull(
                        f"a person keeps at most {self._quota.max_profiles} profiles "
                        "(max_profiles), the default included; delete one first"
                    )
                row = ProfileRow(
                    user_id=user_id, name=name, owner=owner or new_owner(), created_at=utc_now()
                )
                session.add(row)
                session.flush()
                return NamedProfile(row.name, row.owner, _utc(row.created_at))
        except IntegrityError as error:
            raise ProfileExists(name) from error

    def rename(self, user_id: str, old: str, new: str) -> NamedProfile:
        if DEFAULT_PROFILE in (old, new):
            raise ProfileRefused("the default profile keeps its name, and no other may take it")
        check_name(new)
        try:
            with Session(self._engine) as session, session.begin():
                row = session.scalar(
                    select(ProfileRow).where(ProfileRow.user_id == user_id, ProfileRow.name == old)
                )
                if row is None:
                    raise ProfileNotFound(old, user_id)
                row.name = new
                session.flush()
                return NamedProfile(row.name, row.owner, _utc(row.created_at))
        except IntegrityError as error:
            raise ProfileExists(new) from error

    def remove(self, user_id: str, name: str) -> str:
        """Forget the profile's row; returns its owner key, whose data the caller deletes."""
        if name == DEFAULT_PROFILE:
            raise ProfileRefused("the default profile cannot be deleted")
        owner = self.owner(user_id, name)
        with Session(self._engine) as session, session.begin():
            session.execute(delete(ProfileRow).where(ProfileRow.owner == owner))
        return owner

    def delete_user(self, user_id: str) -> list[str]:
        """Forget all of a person's named profiles; returns their owner keys."""
        with Session(self._engine) as session, session.begin():
            owners = list(
                session.scalars(select(ProfileRow.owner).where(ProfileRow.user_id == user_id))
            )
            session.execute(delete(ProfileRow).where(ProfileRow.user_id == user_id))
        return owners
