"""What one generation hands back, and the small types every stage shares.

Kept apart from ``generator`` and ``batched`` so both can use them: the generator's lone call is
a batch of one (docs/design.md, "One denoising path").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from PIL import Image

from generation.encoding import TextEmbeddings
from generation.plan import ConditioningPlan
from generation.png import PROMPT_CHUNK
from generation.settings import GenerationSettings

OUTPUT_TYPES = ("pil", "np", "latent")
StepCallback = Callable[[int, int], None]
"""Called after each denoising step with (steps done, total steps)."""


@dataclass(frozen=True)
class AestheticReport:
    """What the aesthetic gradients did for this prompt (or why they did not run)."""

    applied: bool
    note: str
    steps: int = 0
    similarity_before: float | None = None
    similarity_after: float | None = None


@dataclass(frozen=True)
class Conditioning:
    """Everything text-side the UNet sees, before ViPer's mixing; cached per request key."""

    prompt: TextEmbeddings
    negative: TextEmbeddings
    liked: TextEmbeddings | None
    disliked: TextEmbeddings | None
    aesthetic: AestheticReport
    styled: TextEmbeddings | None = None
    negative_styled: TextEmbeddings | None = None


@dataclass
class GenerationResult:
    """Images and everything needed to explain and reproduce them.

    ``timings`` holds seconds per stage (check, plan, encode, prepare, denoise, total);
    ``aesthetic``, when present, is the part of ``encode`` spent on aesthetic steps.
    """

    images: list[Image.Image]
    plan: ConditioningPlan
    seed: int
    settings: GenerationSettings
    aesthetic: AestheticReport
    timings: dict[str, float] = field(default_factory=dict)
    conditioning_cached: bool = False
    model: str = ""
    scheduler: str = ""  # the diffusers scheduler class, e.g. EulerDiscreteScheduler
    style_refs: dict[str, Any] | None = None  # the references used: adapter, scale, mode, images

    def metadata(self, index: int = 0) -> dict[str, str]:
        """PNG text chunks: prompt, seed, settings and the attributes applied and dropped."""
        return {
            PROMPT_CHUNK: self.plan.prompt,
            "tastemaker:negative_prompt": self.plan.negative_prompt,
            "tastemaker:seed": str(self.seed + index),
            "tastemaker:model": self.model,
            "tastemaker:settings": self.settings.model_dump_json(exclude={"seed"}),
            "tastemaker:liked_applied": self.plan.positive_text,
            "tastemaker:disliked_applied": self.plan.negative_text,
            "tastemaker:plan": self.plan.model_dump_json(),
            "tastemaker:aesthetic": json.dumps(asdict(self.aesthetic)),
            "tastemaker:scheduler": self.scheduler,
            "tastemaker:style": self.plan.style_token,
            "tastemaker:negative_style": self.plan.negative_style_token,
            "tastemaker:style_refs": json.dumps(self.style_refs) if self.style_refs else "",
        }


class StageTimer:
    """Seconds per stage of one request: ``lap(stage)`` ends ``stage`` and starts the next."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.started = self._clock = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = now - self._clock
        self._clock = now
