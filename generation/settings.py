"""Bounds-checked settings of one generation request.

Validated before any model is touched: a request that would take hours, allocate gigabytes or
carry a NaN is refused with a message that says what range is allowed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from generation.errors import InvalidGenerationRequest
from generation.lora_names import MAX_LORAS, LoraWeight, unique_names
from generation.prompt_syntax import CHUNK_TOKENS, MAX_CHUNKS
from generation.samplers import DEFAULT_SAMPLER, Sampler

# The generator's own limits: the service may set tighter ones (``api.settings``), never looser.
MAX_PROMPT_CHARS = 1_000
MIN_SIDE = 64
MAX_SIDE = 2048
SIDE_MULTIPLE = 8  # the VAE's downsampling factor
MAX_DENOISING_STEPS = 200
MAX_IMAGES = 8
MAX_GUIDANCE_SCALE = 30.0
MAX_VP_DEGREE = 2.0
MAX_AESTHETIC_STEPS = 50
MAX_AESTHETIC_LR = 1e-2
MAX_AESTHETIC_LAYERS = 64
MAX_STYLE_WEIGHT = 2.0
MAX_CFG_RESCALE = 1.0
MAX_STYLE_REF_SCALE = 1.5
SEED_LIMIT = 2**63  # exclusive: a seed fits a signed 64-bit integer
DEFAULT_STRENGTH = 0.6  # img2img with no strength given (A1111's 0.75 redraws more)

NOT_OFFERED = frozenset({"aesthetic_layers"})
"""Settings the CLI flags and the HTTP body leave out (a benchmark knob: ``bench/generation.py``).
Every other field of ``GenerationSettings`` is offered as it is declared here."""


class ConditioningMode(StrEnum):
    """How liked/disliked attributes reach the UNet (docs/design.md, "ViPer conditioning")."""

    EMBEDS = "embeds"  # prompt_embeds = E(p) + β·E(VP+): no extra compute
    GUIDANCE = "guidance"  # one extra UNet pass per step on [E(VP−), E(VP+)]: ~1.4–1.7× time


class StyleRefMode(StrEnum):
    """Which UNet blocks see the style references (InstantStyle; docs/design.md, "Style
    references (IP-Adapter, InstantStyle)")."""

    STYLE = "style"  # the style block only: colour, texture, light; not the subject
    STYLE_LAYOUT = "style+layout"  # and the layout block: composition too
    FULL = "full"  # every cross-attention layer: plain IP-Adapter, content leaks in


def _multiple_of_8(value: int) -> int:
    if value % SIDE_MULTIPLE:
        raise ValueError(
            f"must be a multiple of {SIDE_MULTIPLE} (got {value}); "
            f"try {max(SIDE_MULTIPLE, value // SIDE_MULTIPLE * SIDE_MULTIPLE)}"
        )
    return value


Side = Annotated[
    int,
    Field(ge=MIN_SIDE, le=MAX_SIDE, json_schema_extra={"multipleOf": SIDE_MULTIPLE}),
    AfterValidator(_multiple_of_8),
]


class GenerationSettings(BaseModel):
    """Everything that shapes one generation besides the prompt and the profile.

    The one declaration of each setting's default, bounds and help: the CLI's flags and the
    HTTP body's fields are made from these fields (``generation.options``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(default=30, ge=1, le=MAX_DENOISING_STEPS, description="Denoising steps.")
    guidance_scale: float = Field(
        default=5.0,
        ge=0.0,
        le=MAX_GUIDANCE_SCALE,
        allow_inf_nan=False,
        description="Classifier-free guidance scale.",
    )
    width: Side | None = Field(
        default=None, description="Multiple of 8; the model's native width if left out."
    )
    height: Side | None = Field(
        default=None, description="Multiple of 8; the model's native height if left out."
    )
    sampler: Sampler = Field(
        default=DEFAULT_SAMPLER,
        description="Sampler, by its AUTOMATIC1111 name: " + ", ".join(s.value for s in Sampler),
    )
    cfg_rescale: float = Field(
        default=0.0,
        ge=0.0,
        le=MAX_CFG_RESCALE,
        allow_inf_nan=False,
        description="Guidance rescale φ (0: off; 0.7 for v-prediction models, which "
        "otherwise come out washed out or over-exposed).",
    )
    num_images: int = Field(
        default=1, ge=1, le=MAX_IMAGES, description="Images to make (seeds seed, seed+1, ...)."
    )
    seed: int | None = Field(
        default=None, ge=0, lt=SEED_LIMIT, description="Seed (random when left out)."
    )
    mode: ConditioningMode = ConditioningMode.EMBEDS
    vp_degree: float = Field(
        default=0.85,
        ge=0.0,
        le=MAX_VP_DEGREE,
        allow_inf_nan=False,
        description="ViPer's β (a = b): weight of the attributes.",
    )
    aesthetic_steps: int = Field(
        default=5, ge=0, le=MAX_AESTHETIC_STEPS, description="Aesthetic-gradient steps (0: off)."
    )
    aesthetic_lr: float = Field(
        default=1e-4,
        gt=0.0,
        le=MAX_AESTHETIC_LR,
        allow_inf_nan=False,
        description="Aesthetic-gradient learning rate.",
    )
    aesthetic_layers: int | None = Field(
        default=None,
        ge=1,
        le=MAX_AESTHETIC_LAYERS,
        description="Tune only the last N encoder layers (None: all layers, not the embeddings).",
    )

    style_weight: float = Field(
        default=1.0,
        ge=0.0,
        le=MAX_STYLE_WEIGHT,
        allow_inf_nan=False,
        description="Weight of the person's learned style token (0: off).",
    )
    negative_style_weight: float = Field(
        default=1.0,
        ge=0.0,
        le=MAX_STYLE_WEIGHT,
        allow_inf_nan=False,
        description="Weight of the learned negative token in the negative conditioning (0: off).",
    )

    style_ref_scale: float = Field(
        default=0.6,
        ge=0.0,
        le=MAX_STYLE_REF_SCALE,
        allow_inf_nan=False,
        description="Weight of the style references (IP-Adapter; 0: the image without them).",
    )
    style_ref_mode: StyleRefMode = Field(
        default=StyleRefMode.STYLE,
        description="Blocks the references reach: style (InstantStyle), style+layout, full.",
    )

    strength: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="img2img: how much of the init image is redrawn (0: kept, 1: a new image); "
        f"{DEFAULT_STRENGTH} when an init image is given without it.",
    )

    loras: Annotated[tuple[LoraWeight, ...], AfterValidator(unique_names)] = Field(
        default=(),
        max_length=MAX_LORAS,
        description='LoRAs to apply, by name and weight (docs/design.md, "LoRAs").',
    )

    def cache_key(self) -> tuple[object, ...]:
        """The settings that change the conditioning (not the seed, size or step count)."""
        return (
            str(self.mode),
            self.vp_degree,
            self.aesthetic_steps,
            self.aesthetic_lr,
            self.aesthetic_layers,
            self.lora_key(),  # a LoRA may carry text-encoder layers
        )

    def loop_key(self) -> tuple[object, ...]:
        """What requests sharing one denoising loop must share: one latent size, one step
        count and sampler, one CFG scale, rescale and mode, one img2img strength
        (``generation.batched``)."""
        return (
            self.width,
            self.height,
            self.steps,
            str(self.sampler),
            self.guidance_scale,
            self.cfg_rescale,
            str(self.mode),
            self.strength,  # img2img: a strength is a start timestep (generation/img2img.py)
            self.lora_key(),  # one set of LoRA layers on the shared UNet per loop
        )

    def lora_key(self) -> tuple[tuple[str, float], ...]:
        return tuple((lora.name, lora.weight) for lora in self.loras)

    def updated(self, **changes: object) -> GenerationSettings:
        """A validated copy with some fields changed (``model_copy`` would skip validation)."""
        return type(self).checked(**{**self.model_dump(), **changes})

    @classmethod
    def checked(cls, **values: object) -> GenerationSettings:
        """Build settings; pydantic's error becomes one readable ``InvalidGenerationRequest``."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise InvalidGenerationRequest(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "value"
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "invalid generation settings: " + "; ".join(parts)


def check_prompt(prompt: object, *, what: str = "prompt", allow_empty: bool = False) -> str:
    """A prompt is a non-empty string of at most ``MAX_PROMPT_CHARS`` characters."""
    if not isinstance(prompt, str):
        raise InvalidGenerationRequest(f"{what} must be text, got {type(prompt).__name__}")
    text = prompt.strip()
    if not text and not allow_empty:
        raise InvalidGenerationRequest(f"{what} is empty: describe what to draw")
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidGenerationRequest(
            f"{what} has {len(text)} characters; at most {MAX_PROMPT_CHARS} are accepted "
            f"(the encoder reads at most {MAX_CHUNKS} chunks of {CHUNK_TOKENS} tokens anyway)"
        )
    if "\x00" in text:
        raise InvalidGenerationRequest(f"{what} contains a NUL character")
    return text
