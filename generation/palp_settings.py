"""What a PALP run does (``generation.palp``), with its limits: kept apart from the training
code so that a request can be checked, and the CLI can offer its flags, without loading torch."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from generation.errors import InvalidGenerationRequest

MAX_PALP_STEPS = 2_000
MAX_PALP_RANK = 128
MAX_PALP_LR = 1e-2
MAX_PALP_GUIDANCE = 50.0  # α and β, as a request may set them


@dataclass(frozen=True)
class PalpSettings:
    """What a PALP run does; validated on construction (a clear error, never a silent fix)."""

    steps: int = 500
    rank: int = 32
    learning_rate: float = 5e-5
    alpha: float = 15.0
    beta: float = 7.5
    alignment_weight: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.steps <= MAX_PALP_STEPS:
            raise InvalidGenerationRequest(
                f"palp steps must be 0..{MAX_PALP_STEPS}, got {self.steps}"
            )
        if not 1 <= self.rank <= MAX_PALP_RANK:
            raise InvalidGenerationRequest(f"palp rank must be 1..{MAX_PALP_RANK}, got {self.rank}")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate <= MAX_PALP_LR):
            raise InvalidGenerationRequest(f"palp learning rate must be in (0, {MAX_PALP_LR:g}]")
        if not (math.isfinite(self.alpha) and math.isfinite(self.beta) and self.beta >= 0):
            raise InvalidGenerationRequest("palp alpha and beta must be finite, beta >= 0")
        if self.alpha <= self.beta:
            raise InvalidGenerationRequest(
                f"palp alpha ({self.alpha}) must be greater than beta ({self.beta}): the "
                "alignment term pulls the adapted model toward the pretrained model's stronger "
                "guidance for the prompt; with alpha <= beta it no longer aligns"
            )
        if not (math.isfinite(self.alignment_weight) and self.alignment_weight >= 0):
            raise InvalidGenerationRequest("palp alignment weight must be finite and >= 0")

    def cache_key(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "rank": self.rank,
            "lr": self.learning_rate,
            "alpha": self.alpha,
            "beta": self.beta,
            "lambda": self.alignment_weight,
            "seed": self.seed,
        }
