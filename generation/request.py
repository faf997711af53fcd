"""One generation request, typed: what the CLI, the HTTP API and every job worker hand to
``render_request``. Its bounds are the generator's own (``GenerationSettings``); the service may
set tighter ones, but no caller re-declares these.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from generation.settings import MAX_PROMPT_CHARS, GenerationSettings, check_prompt

ASSUMED_NATIVE_SIDE = 1024
"""A size left to the model counts as this many pixels a side when costing a request: the
largest native size of the supported families (SDXL), so an unknown model is never under-costed."""


class GenerationRequest(BaseModel):
    """A prompt in a person's taste, with its settings; ``include_plain`` adds the plain model's
    image of the same seed (the same work again)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    negative_prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    settings: GenerationSettings = Field(default_factory=GenerationSettings)
    include_plain: bool = False

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        return check_prompt(value)

    @field_validator("negative_prompt")
    @classmethod
    def _negative_prompt(cls, value: str) -> str:
        return check_prompt(value, what="negative prompt", allow_empty=True)

    def total_steps(self) -> int:
        """Denoising steps the whole request takes (both images when the plain one is made)."""
        return self.settings.steps * (2 if self.include_plain else 1)

    def pixel_steps(self) -> int:
        """The work this request asks for: width × height × steps × images, doubled for the
        plain image; a size left to the model counts as ``ASSUMED_NATIVE_SIDE``."""
        width = self.settings.width or ASSUMED_NATIVE_SIDE
        height = self.settings.height or ASSUMED_NATIVE_SIDE
        return width * height * self.total_steps() * self.settings.num_images

    def batch_key(self) -> tuple[object, ...]:
        """Requests with equal keys could share one denoising batch (issue 15): same size,
        steps, guidance scale and mode; the prompt, seed and profile may differ. PALP requests
        carry their own adapter weights: their key equals no other."""
        s = self.settings
        if str(s.mode) == "palp":  # per-request adapters (weights): never shares a batch
            return ("palp", object())
        return (s.width, s.height, s.steps, s.guidance_scale, str(s.mode), self.include_plain)
