"""The caller's named profiles: list, create, rename, delete (docs/design.md, "Named
profiles"). Every other route takes ``?profile=NAME`` (``api/deps.py``, ``CurrentOwner``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from fastapi.concurrency import run_in_threadpool

from api.deps import CurrentUser, JobsDep, SettingsDep, StoreDep, StylesDep, TasteDep
from api.errors import Conflict, TooManyRequests, Unavailable, Unprocessable
from api.generation_schemas import GenerationAccepted
from api.profile_schemas import NAME_RULE, ProfileCreate, ProfileOut, ProfileRename
from api.profiles import forget_profile, summaries
from api.schemas import Problem
from jobs.repository import JobTooLarge, QueueFull, UserJobLimit
from jobs.style import STYLE_TRAINING, rebuild_request, rebuild_sources
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


@router.post(
    "/{name}/rebuild",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**NOT_FOUND, 409: {"model": Problem}, 503: {"model": Problem}},
)
def rebuild_profile(
    user: CurrentUser,
    store: StoreDep,
    styles: StylesDep,
    runner: JobsDep,
    settings: SettingsDep,
    name: Name,
) -> list[GenerationAccepted]:
    """Learn the profile's style tokens again for this service's model, on the same images,
    as style-training jobs (progress on each `events_url`); each job first makes the aesthetic
    embedding and reference set for this model. The old tokens stay, for their model."""
    owner = store.profiles.owner(user, name)
    sources = [r for r in rebuild_sources(styles, owner, settings.model) if r.image_ids]
    if not sources:
        raise Conflict(f"profile {name!r} has no learned style token for another model")
    if runner.load_error is not None:
        raise Unavailable(f"training is unavailable: the model failed to load: {runner.load_error}")
    accepted = []
    for record in sources:
        request = rebuild_request(record, None if owner == user else owner, None)
        try:
            job = runner.submit(user, STYLE_TRAINING, request)
        except (QueueFull, UserJobLimit) as full:
            raise TooManyRequests(str(full), retry_after_s=full.retry_after_s) from None
        except JobTooLarge as large:
            raise Unprocessable(str(large)) from None
        events = f"/v1/generations/{job.id}/events"
        accepted.append(GenerationAccepted(id=job.id, status=job.status, events_url=events))
    return accepted
