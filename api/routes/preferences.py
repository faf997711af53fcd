"""The caller's preferences: list, search, add, edit, delete, export/import, presets for other
tools, versions (list, read, diff, restore).

Every call acts on the token's user only, on the profile ``?profile=NAME`` names (the default
when left out); another user's attribute id answers 404 exactly like an id that never existed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from api.bodies import VersionedBodies
from api.deps import (
    BlobsDep,
    CurrentOwner,
    CurrentUser,
    SlowLaneDep,
    StoreDep,
    StylesDep,
    TasteDep,
    in_lane,
)
from api.presets import PRESET_DOWNLOADS, preset_file
from api.profile_document import ImportResult, ProfileDocument
from api.schemas import (
    AttributeCreate,
    AttributeOut,
    AttributePatch,
    PreferencesOut,
    Problem,
    SearchHit,
)
from generation.presets import PresetFormat
from preference_store.categories import CategoryGuesser
from preference_store.errors import InvalidImport
from preference_store.models import (
    ATTRIBUTE_ID_PATTERN,
    MAX_VERSION,
    AttributeDraft,
    AttributeUpdate,
    Profile,
    ProfileVersionInfo,
    new_id,
)
from preference_store.store import PreferenceStore
from preference_store.transfer import (
    PROFILE,
    PROFILES,
    export_profile,
    import_person,
    import_profile,
)
from preference_store.versions import ProfileDiff, diff_profiles

router = APIRouter(
    prefix="/v1/preferences",
    tags=["preferences"],
    responses={401: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
)
AttributeId = Annotated[str, Path(min_length=1, max_length=64, pattern=ATTRIBUTE_ID_PATTERN)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}


def _preferences_body(store: PreferenceStore, bodies: VersionedBodies, user: str) -> bytes:
    """The list's JSON at the current version, made once per version (blocking)."""
    return bodies.body(
        user,
        store.current_version(user),
        lambda: PreferencesOut.from_profile(store.current(user)).model_dump_json().encode(),
    )


@router.get("", response_model=PreferencesOut)
async def list_preferences(owner: CurrentOwner, store: StoreDep, request: Request) -> Response:
    """The caller's attributes grouped by category and polarity, with the profile version."""
    # The hottest read (docs/benchmarks.md, bench/api.py): the JSON is made once per version
    # (api/bodies.py), not validated again by FastAPI per request. On SQLite a kept body is
    # served from the event loop (which version is current: one local indexed row), as the
    # threadpool hop cost more than the rest of the request; building one, or asking a database
    # over the network, runs in the threadpool.
    bodies: VersionedBodies = request.app.state.preference_bodies
    body = bodies.get(owner, store.current_version(owner)) if store.local_reads else None
    if body is None:
        body = await run_in_threadpool(_preferences_body, store, bodies, owner)
    return Response(body, media_type="application/json")


@router.get("/search")
def search_preferences(
    owner: CurrentOwner,
    store: StoreDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description="Words to look for.")],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[SearchHit]:
    """The caller's attributes by meaning, most relevant first."""
    return [
        SearchHit(attribute=AttributeOut.of(hit.attribute), score=hit.score)
        for hit in store.search(owner, q, limit=limit)
    ]


@lru_cache(maxsize=4)
def _category_guesser(store: PreferenceStore) -> CategoryGuesser:
    """One per store: it embeds its category prototypes once."""
    return CategoryGuesser(store.embedder)


@router.post("", status_code=status.HTTP_201_CREATED, responses={422: {"model": Problem}})
def add_preference(owner: CurrentOwner, store: StoreDep, body: AttributeCreate) -> AttributeOut:
    """Add one attribute by hand (merged with an existing one of the same text); new version.
    Without a category, it is guessed from the text, as `tastemaker prefs add` does."""
    fields = body.model_dump()
    if fields["category"] is None:
        fields["category"] = _category_guesser(store).guess(body.text)
    draft = AttributeDraft(**fields, evidence=[], source="manual")
    return AttributeOut.of(store.add(owner, [draft], reason="added by hand")[0])


@router.patch("/{attribute_id}", responses={**NOT_FOUND, 409: {"model": Problem}})
def edit_preference(
    owner: CurrentOwner, store: StoreDep, attribute_id: AttributeId, body: AttributePatch
) -> AttributeOut:
    """Change text, category, polarity or strength of one attribute; new version."""
    change = AttributeUpdate(**body.model_dump(exclude_none=True))
    return AttributeOut.of(store.update(owner, attribute_id, change))


@router.delete("/{attribute_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
def delete_preference(owner: CurrentOwner, store: StoreDep, attribute_id: AttributeId) -> Response:
    """Forget one attribute; new version (the old one stays readable in past versions)."""
    store.delete(owner, attribute_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/export", response_model=ProfileDocument)
def export_preferences(
    owner: CurrentOwner, store: StoreDep, styles: StylesDep, taste: TasteDep
) -> dict[str, Any]:
    """The caller's profile as a versioned JSON document (the CLI's `prefs export`)."""
    return export_profile(store, owner, styles, taste.choices)


@router.get("/presets/{format}", response_class=Response, responses=PRESET_DOWNLOADS)
def export_preset(
    owner: CurrentOwner,
    store: StoreDep,
    styles: StylesDep,
    blobs: BlobsDep,
    format: Annotated[PresetFormat, Path(description="The tool, or bundle for all (a zip).")],
) -> Response:
    """The caller's taste as a style preset to download: an A1111 styles.csv row, Fooocus style
    JSON, an InvokeAI style preset, or a zip of them with the style tokens, the liked images
    and a README (the CLI's `prefs export --format`)."""
    made = preset_file(store, styles, blobs, owner, format)
    disposition = f'attachment; filename="{made.filename}"'
    return Response(
        made.data(), media_type=made.media_type, headers={"Content-Disposition": disposition}
    )


@router.post("/import", responses={422: {"model": Problem}})
async def import_preferences(
    user: CurrentUser,
    owner: CurrentOwner,
    store: StoreDep,
    styles: StylesDep,
    taste: TasteDep,
    lane: SlowLaneDep,
    body: ProfileDocument,
) -> ImportResult:
    """Replace the caller's profile with an exported one (a new version unless identical); an
    export of the default profile brings the named profiles it carries back too (each made
    when missing), and `?profile=NAME` imports a one-profile document into that profile.

    A document exported by another account is taken over with fresh attribute ids, so it can
    never touch that account's attributes. Embedding a large import takes seconds of CPU: it
    runs in the slow lane, never in the threads quick reads use.
    """
    document = body.model_dump(mode="json", by_alias=True, exclude_none=True)

    def restore() -> ImportResult:
        def prepare(part: dict[str, Any], to: str) -> dict[str, Any]:
            return _owned_by(to, part, store.profile(to))

        if owner != user:  # ?profile=NAME: this document goes there, alone
            if document.get(PROFILES) or document.get(PROFILE):
                raise InvalidImport("import a document of several profiles without ?profile")
            profile = import_profile(store, prepare(document, owner), styles, taste.choices)
        else:
            named = {k: document[k] for k in (PROFILES, PROFILE) if k in document}
            own = prepare({k: v for k, v in document.items() if k not in named}, user)
            profile = import_person(store, own | named, styles, taste.choices, prepare=prepare)
        return ImportResult(version=profile.version, attribute_count=len(profile.attributes))

    return await in_lane(lane, restore)


def _owned_by(owner: str, document: dict[str, Any], current: Profile) -> dict[str, Any]:
    """The document as the caller's own, minus what must not come from a client: file paths
    on this server (the worker would open them) and aesthetic embeddings for CLIP models this
    server did not compute for the caller (each model name makes a chromadb collection). Paths
    and embeddings the caller's profile already has are kept, so re-importing one's own export
    changes nothing."""
    attributes = document.get("attributes", [])
    if not isinstance(attributes, list) or not all(isinstance(a, dict) for a in attributes):
        raise InvalidImport("'attributes' must be a list of attribute objects")
    foreign = document.get("user_id") != owner
    owned = []
    for attribute in attributes:
        copy = {**attribute, "user_id": owner}
        if foreign:
            copy["id"] = new_id()
        owned.append(copy)
    known_paths = {r.image_id: r.path for r in (*current.liked_images, *current.disliked_images)}
    images = {}
    for key in ("liked_images", "disliked_images"):
        reactions = document.get(key, [])
        if not isinstance(reactions, list) or not all(isinstance(r, dict) for r in reactions):
            raise InvalidImport(f"'{key}' must be a list of image objects")
        images[key] = [{**r, "path": known_paths.get(r.get("image_id"))} for r in reactions]
    embeddings = document.get("aesthetic_embeddings") or {}
    if not isinstance(embeddings, dict):
        raise InvalidImport("'aesthetic_embeddings' must map CLIP model names to vectors")
    return {
        **document,
        **images,
        "user_id": owner,
        "attributes": owned,
        "aesthetic_embeddings": {
            k: v for k, v in embeddings.items() if k in current.aesthetic_embeddings
        },
    }


@router.get("/versions")
def list_versions(owner: CurrentOwner, store: StoreDep) -> list[ProfileVersionInfo]:
    """Every version of the caller's profile, oldest first, with why it was made."""
    return store.versions(owner)


@router.get("/versions/{version}", responses=NOT_FOUND)
def get_version(
    owner: CurrentOwner, store: StoreDep, version: Annotated[int, Path(ge=0, le=MAX_VERSION)]
) -> PreferencesOut:
    """One past (or the current) version exactly as it was."""
    return PreferencesOut.from_profile(store.profile_at(owner, version))


VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION, description="A version number.")]


@router.post("/versions/{version}/restore", responses=NOT_FOUND)
def restore_version(owner: CurrentOwner, store: StoreDep, version: VersionNumber) -> PreferencesOut:
    """Make a past version current again, as a new version equal to it (history is kept)."""
    old = store.profile_at(owner, version)
    return PreferencesOut.from_profile(store.restore(old, reason=f"restore version {version}"))


@router.get("/diff", responses=NOT_FOUND)
def diff_versions(
    owner: CurrentOwner,
    store: StoreDep,
    from_version: Annotated[
        int, Query(alias="from", ge=0, le=MAX_VERSION, description="The older version; 0: empty.")
    ],
    to_version: Annotated[
        int | None,
        Query(alias="to", ge=1, le=MAX_VERSION, description="The newer; current if unset."),
    ] = None,
) -> ProfileDiff:
    """What changed between two versions: attributes added, removed and changed (by id), and
    image reactions added and removed."""
    old = Profile(user_id=owner) if from_version == 0 else store.profile_at(owner, from_version)
    new = store.profile(owner) if to_version is None else store.profile_at(owner, to_version)
    return diff_profiles(old, new)
