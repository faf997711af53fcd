"""Read-only preference routes for the token's user (editing comes with the full service)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import CurrentUser, StoreDep
from api.schemas import AttributeOut, PreferencesOut, SearchHit
from preference_store.models import ProfileVersionInfo
from preference_store.transfer import export_profile

router = APIRouter(prefix="/v1/preferences", tags=["preferences"])


@router.get("")
def list_preferences(user: CurrentUser, store: StoreDep) -> PreferencesOut:
    """The caller's attributes grouped by category and polarity, with the profile version."""
    return PreferencesOut.from_profile(store.profile(user))


@router.get("/search")
def search_preferences(
    user: CurrentUser,
    store: StoreDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description="Words to look for.")],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[SearchHit]:
    """The caller's attributes by meaning, most relevant first."""
    return [
        SearchHit(attribute=AttributeOut.model_validate(h.attribute.model_dump()), score=h.score)
        for h in store.search(user, q, limit=limit)
    ]


@router.get("/export")
def export_preferences(user: CurrentUser, store: StoreDep) -> dict[str, Any]:
    """The caller's profile as a versioned JSON document (the CLI's `prefs export`)."""
    return export_profile(store, user)


@router.get("/versions")
def list_versions(user: CurrentUser, store: StoreDep) -> list[ProfileVersionInfo]:
    return store.versions(user)


@router.get("/versions/{version}")
def get_version(user: CurrentUser, store: StoreDep, version: int) -> PreferencesOut:
    return PreferencesOut.from_profile(store.profile_at(user, version))
