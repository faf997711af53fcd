"""The caller's named profiles: list, create, rename, delete (docs/design.md, "Named
profiles"). Every other route takes ``?profile=NAME`` (``api/deps.py``, ``CurrentOwner``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from fastapi.concurrency import run_in_threadpool

from api.deps import CurrentUser, StoreDep, StylesDep, TasteDep
from api.profile_schemas import NAME_RULE, ProfileCreate, ProfileOut, ProfileRename
from api.profiles import forget_profile, summaries
from api.schemas import Problem
from preference_store.profiles import PROFILE_NAME_PATTERN
from preference_store.versions import VersionLog

router = APIRouter(
    prefix="/v1/profiles",
    tags=["profiles"],
    responses={401: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
)
Name = Annotated[
    str, Path(pattern=PROFILE_NAME_PATTERN, min_length=1, max_length=32, description=NAME_RULE)
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}


def _list(store: StoreDep, styles: StylesDep, user: str) -> list[ProfileOut]:
    history = VersionLog(styles.engine)
    return [
        ProfileOut(**row.__dict__) for row in summaries(store.profiles.named(user), history, styles)
    ]


@router.get("")
def list_profiles(user: CurrentUser, store: StoreDep, styles: StylesDep) -> list[ProfileOut]:
    """Your profiles, the default first: version, attributes and style tokens of each."""
    return _list(store, styles, user)


@router.post("", status_code=status.HTTP_201_CREATED, responses={409: {"model": Problem}})
def create_profile(
    user: CurrentUser, store: StoreDep, styles: StylesDep, body: ProfileCreate
) -> ProfileOut:
    """Create an empty profile; use it with `?profile=NAME` on the other routes."""
    made = store.profiles.create(user, body.name)
    return next(p for p in _list(store, styles, user) if p.name == made.name)


@router.post("/{name}/rename", responses={**NOT_FOUND, 409: {"model": Problem}})
def rename_profile(
    user: CurrentUser, store: StoreDep, styles: StylesDep, name: Name, body: ProfileRename
) -> ProfileOut:
    """Rename one of your profiles (not the default)."""
    renamed = store.profiles.rename(user, name, body.name)
    return next(p for p in _list(store, styles, user) if p.name == renamed.name)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_profile(
    user: CurrentUser, store: StoreDep, styles: StylesDep, taste: TasteDep, name: Name
) -> Response:
    """Delete one of your profiles and everything in it (the default cannot be deleted)."""
    await run_in_threadpool(forget_profile, store, styles, taste.choices, user, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
