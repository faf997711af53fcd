"""How much one person may keep: attributes, evidence, images, profile size, history, tokens.

Each limit is declared here once; ``api/settings.py`` makes every one configurable
(``TASTEMAKER_<NAME>``) and the schema states them. A change that would pass a limit is
refused before anything is written (``ProfileFull``, a 422 naming the limit), but a profile
already over a limit that was lowered may still shrink. The history is kept in bounds by
compaction instead of refusal: after each write the oldest versions beyond ``max_versions_kept``
or ``max_history_bytes`` are deleted, never the newest (``VersionLog.compact``).

Together: one person stores at most ``max_history_bytes`` of versions (each at most
``max_profile_bytes``), the current profile's records in chromadb, and ``max_style_bytes`` of
style tokens. A person's named profiles (``profiles.py``, at most ``max_profiles``) share these
limits: attributes, images, history bytes and style tokens are counted over all of them
(``Usage``), so more profiles never mean more room.
"""

from __future__ import annotations

from dataclasses import dataclass

from preference_store.errors import ProfileFull
from preference_store.merging import MAX_EVIDENCE_ITEMS
from preference_store.models import DEFAULT_MAX_ATTRIBUTES, MAX_VERSION, Profile

MIB = 1024 * 1024


@dataclass(frozen=True)
class Usage:
    """What a person's *other* profiles already hold, counted against the shared limits."""

    attributes: int = 0
    images: int = 0


NOTHING_ELSE = Usage()


@dataclass(frozen=True)
class Quota:
    """The limits; field names are the settings' names, so a refusal names what to raise."""

    max_attributes: int = DEFAULT_MAX_ATTRIBUTES
    max_evidence_per_attribute: int = MAX_EVIDENCE_ITEMS
    max_profile_images: int = 1_000
    max_profile_bytes: int = 2 * MIB
    max_versions_kept: int = 100
    max_history_bytes: int = 16 * MIB
    max_style_tokens: int = 32
    max_style_bytes: int = 8 * MIB
    max_profiles: int = 8

    def check(self, before: Profile, after: Profile, elsewhere: Usage = NOTHING_ELSE) -> None:
        """ProfileFull if ``after`` passes a limit that ``before`` did not (or grows past it);
        ``elsewhere`` is what the person's other profiles hold, counted in too."""
        count = len(after.attributes)
        total = count + elsewhere.attributes
        if total > self.max_attributes and count > len(before.attributes):
            raise ProfileFull(
                f"a person holds at most {self.max_attributes} attributes (max_attributes) in all "
                f"their profiles together, and this change would make {total}; delete some first"
            )
        images = len(after.liked_images) + len(after.disliked_images)
        if images + elsewhere.images > self.max_profile_images and images > len(
            before.liked_images
        ) + len(before.disliked_images):
            raise ProfileFull(
                f"a person holds at most {self.max_profile_images} liked and disliked images "
                f"(max_profile_images) in all their profiles together, and this change would "
                f"make {images + elsewhere.images}"
            )
        earlier = {a.id: len(a.evidence) for a in before.attributes}
        for attribute in after.attributes:
            evidence = len(attribute.evidence)
            if evidence > self.max_evidence_per_attribute and evidence > earlier.get(
                attribute.id, 0
            ):
                raise ProfileFull(
                    f"an attribute keeps at most {self.max_evidence_per_attribute} pieces of "
                    f"evidence (max_evidence_per_attribute); {attribute.text!r} would have "
                    f"{evidence}"
                )
        if after.version > MAX_VERSION:
            raise ProfileFull(f"profile {after.user_id!r} has used up its version numbers")

    def check_size(self, user_id: str, size: int, newest: int | None) -> None:
        """ProfileFull if a version of ``size`` bytes is over ``max_profile_bytes`` and no
        smaller than the ``newest`` stored one (None: not looked up yet, or none)."""
        if size > self.max_profile_bytes and (newest is None or size >= newest):
            raise ProfileFull(
                f"a profile is stored in at most {self.max_profile_bytes} bytes "
                f"(max_profile_bytes) and this change would make {user_id!r}'s {size}; "
                "delete attributes or evidence first"
            )

    def kept(self, sizes: list[int], elsewhere: int = 0) -> int:
        """How many of the versions of these ``sizes`` (newest first) history keeps: the
        newest always, then as many as fit ``max_versions_kept`` and ``max_history_bytes``
        (of which ``elsewhere`` bytes are the person's other profiles' history)."""
        total = elsewhere
        for count, size in enumerate(sizes):
            total += size
            if count and (count >= self.max_versions_kept or total > self.max_history_bytes):
                return count
        return len(sizes)

    def check_tokens(self, count: int, size: int) -> None:
        """ProfileFull unless ``count`` tokens of ``size`` bytes in all fit."""
        if count > self.max_style_tokens:
            raise ProfileFull(
                f"a person keeps at most {self.max_style_tokens} style tokens "
                "(max_style_tokens); delete one first"
            )
        if size > self.max_style_bytes:
            raise ProfileFull(
                f"a person's style tokens take at most {self.max_style_bytes} bytes "
                f"(max_style_bytes), and this one would make {size}; delete one first"
            )


DEFAULT_QUOTA = Quota()
