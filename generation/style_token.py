"""A learned style token as generation uses it: vectors per text encoder plus provenance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class StyleToken:
    """``vectors``: ``clip_l`` (SDXL also ``clip_g``) → [K, D], float32, on the CPU.

    ``token_id`` identifies the stored token; ``profile_version`` is the profile version it
    was trained on (None for an imported file); ``negative`` marks a token learned from the
    images the person disliked, which goes into the negative conditioning.
    """

    token_id: str
    name: str
    vectors: dict[str, Tensor]
    profile_version: int | None = None
    negative: bool = False
    # A blend's tokens, each injected at its weight (docs/design.md, "Blending"); ``vectors``
    # are then the first one's. Empty: this token alone, at weight 1.
    mix: tuple[tuple[StyleToken, float], ...] = ()

    def parts(self) -> tuple[tuple[StyleToken, float], ...]:
        """(token, weight) pairs to inject: the mix, or this token at 1."""
        return self.mix or ((self, 1.0),)

    @property
    def count(self) -> int:
        return int(next(iter(self.vectors.values())).shape[0])

    def digest(self) -> str:
        """A short hash of the vectors: cache keys change when the vectors do."""
        h = hashlib.sha256()
        if self.mix:
            for token, weight in self.mix:
                h.update(f"{token.digest()}:{weight!r};".encode())
            return h.hexdigest()[:16]
        for key in sorted(self.vectors):
            h.update(key.encode())
            h.update(self.vectors[key].detach().float().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    def describe(self) -> str:
        if self.mix:
            return " + ".join(f"{token.describe()} at {weight:.2f}" for token, weight in self.mix)
        trained = (
            f"trained on profile v{self.profile_version}"
            if self.profile_version is not None
            else "imported"
        )
        return f"{self.name} ({self.token_id}, {self.count} vector(s), {trained})"
