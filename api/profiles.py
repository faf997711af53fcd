"""Named profiles end to end (docs/design.md, "Named profiles"): list them with what each
holds, and delete one with everything stored under its owner key. The CLI and the routes
both call these, so a profile is forgotten the same way whichever asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from preference_store.choices import ChoiceStore
from preference_store.profiles import NamedProfile
from preference_store.store import PreferenceStore
from preference_store.styles import StyleStore
from preference_store.versions import VersionLog


@dataclass(frozen=True)
class ProfileSummary:
    name: str
    version: int
    attribute_count: int
    style_tokens: int
    created_at: datetime | None


def summaries(
    profiles: list[NamedProfile], history: VersionLog, styles: StyleStore
) -> list[ProfileSummary]:
    """Each profile with its current version, attribute count and number of style tokens."""
    out = []
    for named in profiles:
        current = history.latest(named.owner)
        out.append(
            ProfileSummary(
                name=named.name,
                version=current.version if current else 0,
                attribute_count=len(current.attributes) if current else 0,
                style_tokens=len(styles.list_tokens(named.owner)),
                created_at=named.created_at,
            )
        )
    return out


def forget_profile(
    store: PreferenceStore, styles: StyleStore, choices: ChoiceStore, user: str, name: str
) -> None:
    """Delete ``user``'s profile ``name`` and everything kept under its owner key: attributes,
    versions, embeddings, style tokens, choices and taste models (ProfileNotFound, or
    ProfileRefused for the default)."""
    owner = store.profiles.remove(user, name)
    styles.delete_user(owner)
    choices.delete_user(owner)
    store.delete_user(owner)
