"""One generation request, typed: what the CLI, the HTTP API and every job worker hand to
``render_request``. Its bounds are the generator's own (``GenerationSettings``); the service may
set tighter ones, but no caller re-declares these.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from generation.blend_parts import MAX_BLEND_PROFILES, BlendPart
from generation.lora_names import with_prompt_loras
from generation.palp_settings import (
    MAX_PALP_GUIDANCE,
    MAX_PALP_LR,
    MAX_PALP_RANK,
    MAX_PALP_STEPS,
    PalpSettings,
)
from generation.reference_ids import MAX_REQUEST_REFERENCES, REFERENCE_ID_PATTERN
from generation.settings import (
    DEFAULT_STRENGTH,
    MAX_IMAGES,
    MAX_PROMPT_CHARS,
    GenerationSettings,
    check_prompt,
)
from preference_store.models import OWNER_ID_PATTERN

ASSUMED_NATIVE_SIDE = 1024
"""A size left to the model counts as this many pixels a side when costing a request: the
largest native size of the supported families (SDXL), so an unknown model is never under-costed."""


PALP_STEP_COST = 3
"""A PALP training step costs about three guided denoising steps of the same size (six UNet
sample-forwards: ``bench/palp.py``), so it counts three times in ``pixel_steps``."""


class PalpRequest(BaseModel):
    """Prompt-aligned personalization for this prompt (``generation.palp``): an adapter is
    trained (or taken from the cache) before denoising. Defaults are the paper's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(
        default=PalpSettings.steps,
        ge=0,
        le=MAX_PALP_STEPS,
        description="PALP training steps (0: none).",
    )
    rank: int = Field(
        default=PalpSettings.rank, ge=1, le=MAX_PALP_RANK, description="PALP LoRA rank."
    )
    learning_rate: float = Field(
        default=PalpSettings.learning_rate,
        gt=0.0,
        le=MAX_PALP_LR,
        allow_inf_nan=False,
        description="PALP learning rate.",
    )
    alpha: float = Field(
        default=PalpSettings.alpha,
        ge=0.0,
        le=MAX_PALP_GUIDANCE,
        allow_inf_nan=False,
        description="PALP: the pretrained model's guidance α, towards the prompt; must be "
        "greater than palp_beta (the defaults: 15 > 7.5).",
    )
    beta: float = Field(
        default=PalpSettings.beta,
        ge=0.0,
        le=MAX_PALP_GUIDANCE,
        allow_inf_nan=False,
        description="PALP: the adapted model's guidance β, towards the person's taste; must be "
        "less than palp_alpha.",
    )

    @model_validator(mode="after")
    def _valid(self) -> PalpRequest:
        self.settings()  # the one place the rules live (alpha > beta, with the reason)
        return self

    def settings(self, seed: int = 0) -> PalpSettings:
        return PalpSettings(
            steps=self.steps,
            rank=self.rank,
            learning_rate=self.learning_rate,
            alpha=self.alpha,
            beta=self.beta,
            seed=seed,
        )


class GenerationRequest(BaseModel):
    """A prompt in a person's taste, with its settings; ``include_plain`` adds the plain model's
    image of the same seed (the same work again); ``candidates`` renders that many seeds and
    hands them back best first by the person's taste match (docs/design.md, "Taste from
    choices"). Both are request-level: they decide what is done with the pixels, not how they
    are made, so neither is in a PNG's settings chunk and ``--from-png`` makes one image again."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="What to draw.")
    negative_prompt: str = Field(
        default="", max_length=MAX_PROMPT_CHARS, description="What to steer away from."
    )
    settings: GenerationSettings = Field(default_factory=GenerationSettings)
    include_plain: bool = False
    palp: PalpRequest | None = None
    candidates: int | None = Field(
        default=None,
        ge=1,
        le=MAX_IMAGES,
        description="Render this many seeds (seed, seed+1, ...) and return them best first by "
        "your taste match; each PNG records its taste_match.",
    )
    profile_version: int | None = Field(
        default=None,
        ge=0,
        description="Render with the person's profile as it was at this version (to make an "
        "image again: ``generate --from-png``); the current profile when left out.",
    )
    owner: str | None = Field(
        default=None,
        pattern=OWNER_ID_PATTERN,
        description="Whose profile: a named profile's owner key, set by the server from the "
        'caller\'s account and profile name (docs/design.md, "Named profiles"); None: the '
        "account's default profile.",
    )
    blend: list[BlendPart] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_BLEND_PROFILES,
        description="Generate in several of the person's profiles at once, each at its weight "
        '(normalised to sum 1; docs/design.md, "Blending").',
    )
    style_ref_ids: list[Annotated[str, StringConstraints(pattern=REFERENCE_ID_PATTERN)]] = Field(
        default_factory=list,
        max_length=MAX_REQUEST_REFERENCES,
        description="Uploaded references (POST /v1/references) to use instead of the liked "
        "images, for this request only.",
    )

    init_image: str | None = Field(
        default=None,
        pattern=REFERENCE_ID_PATTERN,
        description="img2img: an uploaded reference (POST /v1/references) to start from, "
        "resized to the generation size; strength says how much of it is redrawn.",
    )

    @model_validator(mode="before")
    @classmethod
    def _prompt_loras(cls, data: object) -> object:
        return with_prompt_loras(data)  # <lora:name:weight> in the prompt, as A1111 reads it

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        return check_prompt(value)

    @field_validator("negative_prompt")
    @classmethod
    def _negative_prompt(cls, value: str) -> str:
        return check_prompt(value, what="negative prompt", allow_empty=True)

    @model_validator(mode="after")
    def _one_image_count(self) -> GenerationRequest:
        if self.palp is not None and self.settings.loras:
            raise ValueError(
                "PALP trains its own adapter on the model and runs alone: leave the LoRAs out "
                "of a PALP request"
            )
        images = self.settings.num_images
        if self.candidates is not None and images not in (1, self.candidates):
            raise ValueError(
                f"candidates ({self.candidates}) already says how many images to make: leave "
                f"num_images ({images}) out"
            )
        if self.settings.strength is not None and self.init_image is None:
            raise ValueError("strength is how much of an init image is redrawn: give init_image")
        return self

    @model_validator(mode="after")
    def _blend(self) -> GenerationRequest:
        if self.blend is None:
            return self
        if abs(sum(p.weight for p in self.blend) - 1.0) > 1e-6:
            raise ValueError("blend weights must be normalised to sum 1 (blend_weights does it)")
        if self.palp is not None:
            raise ValueError("PALP trains on one profile's images: leave the blend out")
        if self.profile_version is not None:
            raise ValueError("a blend uses each profile's current version: leave it out")
        return self

    def image_settings(self) -> GenerationSettings:
        """The settings the images are made with: ``candidates`` seeds when asked for, and an
        init image's strength (``DEFAULT_STRENGTH`` when left out)."""
        changes: dict[str, object] = {}
        if self.candidates is not None and self.candidates != self.settings.num_images:
            changes["num_images"] = self.candidates
        if self.init_image is not None and self.settings.strength is None:
            changes["strength"] = DEFAULT_STRENGTH
        return self.settings.updated(**changes) if changes else self.settings

    def total_steps(self) -> int:
        """Steps the whole request takes: PALP training first (when asked for), then the
        denoising (both images when the plain one is made)."""
        training = self.palp.steps if self.palp is not None else 0
        return training + self.settings.steps * (2 if self.include_plain else 1)

    def pixel_steps(self) -> int:
        """The work this request asks for: width × height × steps × images, doubled for the
        plain image; a size left to the model counts as ``ASSUMED_NATIVE_SIDE``."""
        width = self.settings.width or ASSUMED_NATIVE_SIDE
        height = self.settings.height or ASSUMED_NATIVE_SIDE
        plain = 2 if self.include_plain else 1
        denoising = self.settings.steps * plain * self.image_settings().num_images
        training = PALP_STEP_COST * self.palp.steps if self.palp is not None else 0
        return width * height * (denoising + training)

    def too_large(self, limit: int) -> str:
        """Why this request is over a ``limit`` of pixel-steps, part by part, and what fits;
        PALP's training is named, as it is most of a PALP request's cost."""
        width = self.settings.width or ASSUMED_NATIVE_SIDE
        height = self.settings.height or ASSUMED_NATIVE_SIDE
        area = width * height
        size = f"{width}×{height}" + (
            "" if self.settings.width else " (the model's own size counts as that)"
        )
        plain = 2 if self.include_plain else 1
        denoising = area * self.settings.steps * plain * self.settings.num_images
        said = (
            f"this job costs {self.pixel_steps():,} pixel-steps: denoising {denoising:,} "
            f"({size} × {self.settings.steps} steps × {self.settings.num_images} image(s)"
            f"{', doubled for the plain image' if plain == 2 else ''})"
        )
        if self.palp is None:
            return (
                f"{said}; the limit here is {limit:,}: use a smaller size, fewer steps or fewer "
                "images"
            )
        training = area * PALP_STEP_COST * self.palp.steps
        room = max(0, (limit - denoising) // (area * PALP_STEP_COST))
        return (
            f"{said} + PALP training {training:,} ({self.palp.steps} steps × {PALP_STEP_COST} "
            f"UNet passes at {width}×{height}); the limit here is {limit:,}: at this size at most "
            f"{room} PALP steps fit — use fewer PALP steps or a smaller size"
        )

    def batch_key(self) -> tuple[object, ...]:
        """Requests with equal keys could share one denoising batch (issue 15): same size,
        steps, guidance scale and mode; the prompt, seed and profile may differ. PALP requests
        carry their own adapter weights: their key equals no other."""
        s = self.image_settings()
        if self.palp is not None:
            return ("palp", object())  # a per-request adapter: never batched with anyone
        return (*s.loop_key(), self.include_plain)
