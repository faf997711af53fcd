"""Export and import of one person's profile as a versioned JSON document.

export -> import -> export gives the same document: ids, times, strengths, evidence and the
aesthetic embeddings all travel, and importing what is already there makes no new version.
An import is checked whole before anything is written (``check_import``), then its version
and style tokens commit in one transaction: a refused import leaves no trace.

The export of a person's default profile carries their named profiles under ``profiles``
(name → a profile document without the schema keys); ``import_person`` brings them all back,
and a document without ``profiles`` (every older one) imports into the default profile.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from preference_store.choices import Choice, ChoiceStore, parse_taste, restore_taste
from preference_store.errors import InvalidImport, problems
from preference_store.models import ATTRIBUTE_ID_PATTERN, DEFAULT_MAX_ATTRIBUTES, Profile
from preference_store.profiles import (
    DEFAULT_PROFILE,
    ProfileRefused,
    check_name,
    is_profile_owner,
    new_owner,
)
from preference_store.store import PreferenceStore
from preference_store.styles import StyleRecord, StyleStore, parse_tokens
from preference_store.taste import TasteModel
from preference_store.versions import Also

SCHEMA = "tastemaker.profile"
SCHEMA_VERSION = 1
MAX_AESTHETIC_MODELS = 8
MAX_EMBEDDING_SIZE = 4096
STYLE_TOKENS = "style_tokens"
TASTE = "taste"  # choices between images and the taste model (preference_store.choices)
PROFILES = "profiles"  # a person's named profiles: name -> document without the schema keys
PROFILE = "profile"  # in a named profile's own export: its name (user_id is the account's)
MAX_PROFILES_PER_IMPORT = 1_000  # the bound of the max_profiles setting


def export_profile(
    store: PreferenceStore,
    user_id: str,
    styles: StyleStore | None = None,
    taste: ChoiceStore | None = None,
) -> dict[str, Any]:
    """The profile document; with ``styles``, the learned style tokens travel in it too, and
    with ``taste`` the choices and taste models. The default profile's carries the person's
    named profiles; a named profile's names its account and itself (``PROFILE``)."""
    document = _document(store, user_id, styles, taste)
    if is_profile_owner(user_id):
        account, name = store.profiles.account_of(user_id)
        return {**reowned(document, account), PROFILE: name}
    named = store.profiles.named(user_id)[1:]
    if named:
        document[PROFILES] = {
            p.name: _body(_document(store, p.owner, styles, taste)) for p in named
        }
    return document


def _document(
    store: PreferenceStore,
    user_id: str,
    styles: StyleStore | None = None,
    taste: ChoiceStore | None = None,
) -> dict[str, Any]:
    """One owner's profile document as stored (no other profiles, ids as they are)."""
    profile = store.profile(user_id)
    body = profile.model_dump(mode="json", exclude={"updated_at"})
    document = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, **body}
    tokens = styles.export(user_id) if styles is not None else []
    if tokens:
        document[STYLE_TOKENS] = tokens
    choices = taste.export(user_id) if taste is not None else {}
    if choices:
        document[TASTE] = choices
    return document


def _body(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("schema", "schema_version")}


def parse_export(document: Any, *, max_attributes: int = DEFAULT_MAX_ATTRIBUTES) -> Profile:
    """Validate an export document; raises InvalidImport with a message a person can act on.

    What is imported obeys the same rules as every route: ids the routes accept, one
    attribute per id, at most ``max_attributes`` of them."""
    if not isinstance(document, dict):
        raise InvalidImport("an import must be a JSON object made by `tastemaker prefs export`")
    if document.get("schema") != SCHEMA:
        raise InvalidImport(f"not a tastemaker profile export (expected schema {SCHEMA!r})")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise InvalidImport(
            f"export schema version {document.get('schema_version')!r} is not supported; "
            f"this tastemaker reads version {SCHEMA_VERSION}"
        )
    body = {
        k: v
        for k, v in document.items()
        if k not in ("schema", "schema_version", STYLE_TOKENS, TASTE, PROFILES, PROFILE)
    }
    attributes = body.get("attributes")
    if isinstance(attributes, list) and len(attributes) > max_attributes:
        raise InvalidImport(
            f"the export has {len(attributes)} attributes; a profile holds at most {max_attributes}"
        )
    try:
        profile = Profile.model_validate(body)
    except ValidationError as error:
        raise InvalidImport(f"the export is malformed: {problems(error, 3)}") from error
    if len(profile.aesthetic_embeddings) > MAX_AESTHETIC_MODELS or any(
        not 0 < len(v) <= MAX_EMBEDDING_SIZE for v in profile.aesthetic_embeddings.values()
    ):
        raise InvalidImport(
            f"at most {MAX_AESTHETIC_MODELS} aesthetic embeddings of 1 to "
            f"{MAX_EMBEDDING_SIZE} numbers each"
        )
    seen: set[str] = set()
    ids: set[str] = set()
    for attribute in profile.attributes:
        if not re.fullmatch(ATTRIBUTE_ID_PATTERN, attribute.id):
            raise InvalidImport(
                f"attribute id {attribute.id[:80]!r} is not 1 to 64 letters, digits, '_' or '-'"
            )
        if attribute.id in ids:
            raise InvalidImport(f"attribute id {attribute.id!r} appears twice")
        ids.add(attribute.id)
        if attribute.user_id != profile.user_id:
            raise InvalidImport(
                f"attribute {attribute.id} belongs to {attribute.user_id!r}, "
                f"not to {profile.user_id!r}"
            )
        if attribute.normalized_text in seen:
            raise InvalidImport(f"attribute text {attribute.text!r} appears twice")
        seen.add(attribute.normalized_text)
    return profile


@dataclass(frozen=True)
class ProfileImport:
    """A document that passed every check: the profile and the style tokens, choices and taste
    models it brings."""

    profile: Profile
    tokens: list[tuple[StyleRecord, bytes]]
    choices: list[Choice]
    models: list[TasteModel]


def check_import(document: Any, *, max_attributes: int = DEFAULT_MAX_ATTRIBUTES) -> ProfileImport:
    """Everything an import would store, validated (InvalidImport otherwise); writes nothing."""
    profile = parse_export(document, max_attributes=max_attributes)
    tokens = parse_tokens(profile.user_id, document.get(STYLE_TOKENS) or [])
    choices, models = parse_taste(profile.user_id, document.get(TASTE))
    return ProfileImport(profile, tokens, choices, models)


def _together(writes: list[Also | None]) -> Also | None:
    present = [w for w in writes if w is not None]
    if not present:
        return None

    def write(session: Any) -> None:
        for each in present:
            each(session)

    return write


def import_profile(
    store: PreferenceStore,
    document: Any,
    styles: StyleStore | None = None,
    taste: ChoiceStore | None = None,
) -> Profile:
    """Replace the user's profile with the exported one (a new version), unless identical.

    With ``styles``, the document's style tokens the user lacks are added, and with ``taste``
    its choices and taste models, in the version's transaction. Nothing is written unless the
    whole document is valid.
    """
    checked = check_import(document, max_attributes=store.max_attributes)
    profile = checked.profile
    writes = _together(
        [
            styles.restore(profile.user_id, checked.tokens) if styles is not None else None,
            restore_taste(profile.user_id, checked.choices, checked.models)
            if taste is not None
            else None,
        ]
    )
    current = _document(store, profile.user_id)
    incoming = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION}
    incoming.update(profile.model_dump(mode="json", exclude={"updated_at"}))
    if _without_version(current) == _without_version(incoming) and current["version"] > 0:
        if styles is not None and writes is not None:
            styles.write(writes)
        elif taste is not None and writes is not None:
            taste.write(writes)
        return store.profile(profile.user_id)
    return store.restore(profile, also=writes)


def _without_version(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("version", PROFILES)}


Prepare = Callable[[dict[str, Any], str], dict[str, Any]]
"""(a profile document, the owner key it goes to) -> the document to import there."""


def reowned(document: dict[str, Any], owner: str) -> dict[str, Any]:
    """The document as ``owner``'s: its ``user_id`` and every attribute's."""
    attributes = document.get("attributes")
    if isinstance(attributes, list):
        attributes = [{**a, "user_id": owner} if isinstance(a, dict) else a for a in attributes]
    return {**document, "user_id": owner, "attributes": attributes or []}


def _named_documents(document: Any) -> dict[str, dict[str, Any]]:
    """The ``profiles`` of a document, checked: names the routes take, objects, not too many."""
    named = document.get(PROFILES) if isinstance(document, dict) else None
    if named is None:
        return {}
    if not isinstance(named, dict) or len(named) > MAX_PROFILES_PER_IMPORT:
        raise InvalidImport(
            f"'{PROFILES}' must map at most {MAX_PROFILES_PER_IMPORT} names to documents"
        )
    for name, body in named.items():
        try:
            check_name(name)
        except ProfileRefused as error:
            raise InvalidImport(f"{PROFILES}: {error}") from None
        if name == DEFAULT_PROFILE or not isinstance(body, dict):
            raise InvalidImport(f"{PROFILES}: {name!r} must be a named profile's document")
    return named


def import_person(
    store: PreferenceStore,
    document: Any,
    styles: StyleStore | None = None,
    taste: ChoiceStore | None = None,
    *,
    prepare: Prepare | None = None,
) -> Profile:
    """Import a person's profiles: the document's own (into the default profile, or into the
    named one its ``profile`` says) and every named profile under ``profiles`` (each created
    when missing); returns the document's own. Every part is checked first, the number of
    profiles too: a refused document writes nothing."""
    named = _named_documents(document)
    target = document.get(PROFILE)
    own = {k: v for k, v in document.items() if k not in (PROFILES, PROFILE)}
    user = check_import(own, max_attributes=store.max_attributes).profile.user_id
    if target is not None:
        if named:
            raise InvalidImport(f"a document with '{PROFILE}' cannot also carry '{PROFILES}'")
        named = _named_documents({PROFILES: {target: own}})
    existing = {p.name: p.owner for p in store.profiles.named(user)}
    new = [name for name in named if name not in existing]
    if new and len(existing) + len(new) > store.quota.max_profiles:
        raise InvalidImport(
            f"the document brings {len(new)} new profile(s); a person keeps at most "
            f"{store.quota.max_profiles} (max_profiles), the default included"
        )
    parts = []
    for name, body in named.items():
        owner = existing.get(name) or new_owner()
        part = reowned({"schema": SCHEMA, "schema_version": SCHEMA_VERSION, **body}, owner)
        part = prepare(part, owner) if prepare is not None else part
        check_import(part, max_attributes=store.max_attributes)
        parts.append((name, owner, part))
    _check_total(store, user, own if target is None else None, parts)
    profile = import_profile(store, own, styles, taste) if target is None else None
    for name, owner, part in parts:
        if name not in existing:
            store.profiles.create(user, name, owner=owner)
        imported = import_profile(store, part, styles, taste)
        profile = profile or imported
    assert profile is not None
    return profile


def _check_total(
    store: PreferenceStore,
    user: str,
    own: dict[str, Any] | None,
    parts: list[tuple[str, str, dict[str, Any]]],
) -> None:
    """InvalidImport if the person's attributes, all profiles together, would pass the quota
    once every part is in (checked before the first is written, so none is)."""
    replaced = {owner for _, owner, _ in parts} | ({user} if own is not None else set())
    kept = sum(
        len(store.current(p.owner).attributes)
        for p in store.profiles.named(user)
        if p.owner not in replaced
    )
    documents = [part for _, _, part in parts] + ([own] if own is not None else [])
    total = kept + sum(len(d.get("attributes") or []) for d in documents)
    if total > store.max_attributes:
        raise InvalidImport(
            f"the import would give the person {total} attributes in all their profiles; they "
            f"hold at most {store.max_attributes} (max_attributes)"
        )
