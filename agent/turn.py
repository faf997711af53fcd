"""What the onboarding agent answers with, and what it needs from the store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.gallery import GalleryImage
from preference_store.models import AttributeDraft, ImageReaction, Polarity, Profile


class ProfileWriter(Protocol):
    """The part of the preference store the agent needs."""

    def record_onboarding(
        self,
        user_id: str,
        drafts: Sequence[AttributeDraft],
        liked_images: Sequence[ImageReaction],
        disliked_images: Sequence[ImageReaction],
        *,
        origin: str | None = None,
        chosen: Sequence[ImageReaction] | None = None,
    ) -> Profile: ...

    def profile(self, user_id: str) -> Profile:
        """The current profile (an onboarding that learned nothing writes no version)."""
        ...


@dataclass(frozen=True)
class Turn:
    """What the agent answers: its text, the image to show next (if any), and the state."""

    session_id: str
    text: str
    image: GalleryImage | None = None
    image_path: Path | None = None
    can_finish: bool = False
    finished: bool = False
    profile: Profile | None = None
    used_fallback: bool = False
    learned: tuple[AttributeDraft, ...] = ()
    # Where each learned attribute sits in its message's extraction (what a correction names),
    # which message that is, and the person's message this turn answered.
    positions: tuple[int, ...] = ()
    # That message's features the agent is unsure of, by the same numbering (asked, not stored).
    unsure: tuple[tuple[int, AttributeDraft], ...] = ()
    learned_from: int | None = None
    message_id: int | None = None


ChosenImages = Callable[[str], Sequence[ImageReaction]]
"""A person's id -> the images they picked in "which do you prefer?" pairs, as liked images
weighted by the taste model's confidence (written into the profile at an onboarding's finish)."""

ImageKeeper = Callable[[Path], str]
"""A gallery image's file here -> the ``ImageReaction.path`` to record: where every process that
later reads the liked image (aesthetic step, style training, PALP) finds it."""


def local_file(path: Path) -> str:
    """Embedded: the gallery's file is on the one machine that reads it."""
    return str(path)


def early_finish(missing: Sequence[str]) -> str:
    """What "done" before the policy's minimum says (``policy.Progress.missing``)."""
    return (
        f"Finishing early: the profile would be better with {', '.join(missing)}. "
        "You can onboard again any time to add more."
    )


def saved(merged: Sequence[AttributeDraft], version: int, *, learned: bool) -> str:
    """The finish's last words: what was saved, or that nothing was."""
    if not learned:
        return f"Nothing new to save: your profile stays at version {version}."
    likes = sum(1 for a in merged if a.polarity is Polarity.LIKE)
    return (
        f"Done! I saved {likes} {'thing' if likes == 1 else 'things'} you like and "
        f"{len(merged) - likes} you dislike (profile version {version})."
    )
