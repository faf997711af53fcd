"""Request and response schemas of ``/v1/generations``.

The body's settings are not declared here: each is made from its one declaration
(``generation.options``), as optional and with JSON numbers only (``"steps": true`` is a 422,
not 1). The service's own, tighter limits (``max_steps``, ...) apply on top, in the route.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, create_model

from api.schemas import Request
from generation.blend_parts import MAX_BLEND_PROFILES
from generation.lora_names import MAX_LORAS, LoraWeight
from generation.options import MODE_HELP, OPTIONS, Option, RequestMode
from generation.reference_ids import MAX_REQUEST_REFERENCES, REFERENCE_ID_PATTERN
from generation.request import GenerationRequest
from preference_store.profiles import PROFILE_NAME_PATTERN

_REQUEST_FIELDS = GenerationRequest.model_fields
_CANDIDATES = _REQUEST_FIELDS["candidates"]


class GenerationBody(Request):
    """What a body holds besides the settings; ``GenerationCreate`` adds one field per
    option."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"prompt": "a lighthouse at dusk", "steps": 20, "seed": 7, "include_plain": True}
            ]
        },
    )

    prompt: str = Field(min_length=1, description=_REQUEST_FIELDS["prompt"].description)
    negative_prompt: str = Field(
        default="", description=_REQUEST_FIELDS["negative_prompt"].description
    )
    mode: RequestMode | None = Field(default=None, description=MODE_HELP)
    include_plain: bool = Field(
        default=False,
        strict=True,
        description="Also render the plain model's image (same seed, no personalization), "
        "to compare side by side. Doubles the work.",
    )
    candidates: Annotated[int, Strict(), *_CANDIDATES.metadata] | None = Field(
        default=None, description=_CANDIDATES.description
    )

    style_ref_ids: list[Annotated[str, StringConstraints(pattern=REFERENCE_ID_PATTERN)]] = Field(
        default_factory=list,
        max_length=MAX_REQUEST_REFERENCES,
        description=_REQUEST_FIELDS["style_ref_ids"].description,
    )
    init_image: Annotated[str, StringConstraints(pattern=REFERENCE_ID_PATTERN)] | None = Field(
        default=None, description=_REQUEST_FIELDS["init_image"].description
    )

    loras: list[LoraWeight] = Field(
        default_factory=list,
        max_length=MAX_LORAS,
        description="LoRAs to apply, by the name of a .safetensors file in the server's LoRA "
        "folder (TASTEMAKER_LORA_DIR) and a weight; <lora:name:0.8> in the prompt does the same.",
    )

    blend: (
        dict[
            Annotated[str, StringConstraints(pattern=PROFILE_NAME_PATTERN)],
            Annotated[float, Strict(), Field(ge=0.0, allow_inf_nan=False)],
        ]
        | None
    ) = Field(
        default=None,
        min_length=1,
        max_length=MAX_BLEND_PROFILES,
        description='Your profiles to mix and their weights, e.g. {"default": 0.7, '
        '"zines": 0.3} (normalised; all zero is refused). '
        + (_REQUEST_FIELDS["blend"].description or ""),
    )

    @property
    def request_mode(self) -> RequestMode:
        return self.mode or RequestMode.EMBEDS

    def options(self) -> dict[str, Any]:
        """The settings given; the rest keep their declared defaults."""
        given = self.model_dump(exclude=set(GenerationBody.model_fields), exclude_none=True)
        return given | ({"loras": self.loras} if self.loras else {})


def _body_field(option: Option) -> tuple[Any, Any]:
    """The option as an optional, strictly typed body field with the declaration's bounds
    (a name from a list, as ``sampler``, is matched by value: JSON has no enums)."""
    value_type = option.value_type
    exact = () if isinstance(value_type, type) and issubclass(value_type, Enum) else (Strict(),)
    extra = (*exact, *option.info.metadata)
    strict: Any = Annotated[(value_type, *extra)] if extra else value_type
    return strict | None, Field(default=None, description=option.info.description)


if TYPE_CHECKING:
    GenerationCreate = GenerationBody
else:
    GenerationCreate = create_model(
        "GenerationCreate",
        __base__=GenerationBody,
        __doc__="The generate CLI's flags in snake_case; every setting is optional.",
        **{option.name: _body_field(option) for option in OPTIONS},
    )


# What a client does next with an accepted job, as OpenAPI links (stateful tests follow them to
# the routes whose ids nothing else in the schema supplies).
JOB_LINKS = {
    name: {
        "operationId": f"{name}_v1_generations__job_id_{path}",
        "parameters": {"job_id": "$response.body#/id"},
    }
    for name, path in (
        ("get_generation", "_get"),
        ("generation_events", "_events_get"),
        ("cancel_generation", "_delete"),
    )
}
GENERATION_LINKS = {
    **JOB_LINKS,
    "generation_feedback": {
        "operationId": "generation_feedback_v1_generations__job_id__feedback_post",
        "parameters": {"job_id": "$response.body#/id"},
    },
}


class GenerationAccepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "9b1e…", "status": "queued"}]})

    id: str
    status: str
    events_url: str


class Progress(BaseModel):
    step: int
    total: int


class GenerationOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    prompt: str
    progress: Progress
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    seed: int | None
    model: str | None
    profile_version: int | None
    plan: dict[str, Any] | None = Field(description="The conditioning plan with provenance.")
    aesthetic: dict[str, Any] | None
    style_refs: dict[str, Any] | None = Field(
        default=None, description="The style references used: adapter, scale, mode, images."
    )
    timings: dict[str, float]
    image_urls: list[str]
    plain_image_urls: list[str]
    taste_matches: list[float] | None = Field(
        default=None,
        description="With candidates: each image's taste match (0-1), in image_urls' order, "
        "best first.",
    )
    taste_note: str | None = Field(
        default=None,
        description="Set when the taste model could not tell the candidates apart (seed order).",
    )
    request: dict[str, Any] | None = Field(
        default=None,
        description="The body that makes this generation again (POST it; drop seed to re-roll).",
    )
    profile: str | None = Field(
        default=None,
        description="The profile it was made in (POST the body with ?profile= this to make it "
        "there again); None when that profile has since been deleted.",
    )
