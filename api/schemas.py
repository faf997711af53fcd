"""Request and response schemas of the HTTP API, kept apart from the domain model.

Requests forbid unknown fields (a typo is a 422, not a silently ignored setting); responses carry
OpenAPI examples so ``/docs`` shows what a call looks like.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, Strict

from generation.palp import MAX_RANK as PALP_MAX_RANK
from generation.palp import MAX_STEPS as PALP_MAX_STEPS
from generation.request import PalpRequest
from jobs.feedback import Feedback
from preference_store.models import (
    ATTRIBUTE_TEXT_PATTERN,
    MAX_ATTRIBUTE_CHARS,
    MAX_ATTRIBUTE_WORDS,
    USER_ID_PATTERN,
    Category,
    Polarity,
    Profile,
    VisualAttribute,
)
from preference_store.styles import MAX_TRAINED_VECTORS, MAX_TRAINING_LR, MAX_TRAINING_STEPS
from preference_store.text import MAX_SQL_INTEGER, Line

# Numbers in requests are JSON numbers: ``true`` is not 1 and "5" is not 5 (lax pydantic took
# both, so ``"steps": true`` queued a job).
Int = Annotated[int, Strict()]
Number = Annotated[float, Strict()]
FiniteNumber = Annotated[float, Strict(), AllowInfNan(False)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The bounds of an attribute's text, from the domain model (the server checks them there).
ATTRIBUTE_TEXT: dict[str, Any] = {
    "min_length": 1,
    "max_length": MAX_ATTRIBUTE_CHARS,
    "json_schema_extra": {"pattern": ATTRIBUTE_TEXT_PATTERN},
    "description": f"A keyword phrase: at most {MAX_ATTRIBUTE_CHARS} characters and "
    f"{MAX_ATTRIBUTE_WORDS} words.",
}


# -- users ----------------------------------------------------------------------------------


class UserCreate(Request):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"id": "alice"}]})

    id: str | None = Field(
        default=None,
        pattern=USER_ID_PATTERN,
        description="The new user's id; a random one when left out.",
    )


class UserCreated(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "alice", "token": "tm_3q2…"}]})

    id: str
    token: str = Field(description="Bearer token for this user. Shown once: keep it.")


class SignIn(Request):
    token: str = Field(min_length=1, max_length=200, description="A user's bearer token.")


class SignedIn(BaseModel):
    id: str


class MeOut(BaseModel):
    id: str
    profile_version: int
    attribute_count: int


# -- preferences ----------------------------------------------------------------------------


class AttributeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    text: str
    category: Category
    polarity: Polarity
    strength: float
    evidence: list[str]
    source: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, attribute: VisualAttribute) -> AttributeOut:
        return cls.model_validate(attribute)


class AttributeCreate(Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "teal palette", "category": "color", "polarity": "like", "strength": 0.8}
            ]
        },
    )

    text: str = Field(**ATTRIBUTE_TEXT)
    category: Category | None = Field(
        default=None, description="Which aspect; guessed from the text when left out."
    )
    polarity: Polarity
    strength: Number = Field(default=0.7, ge=0.0, le=1.0, allow_inf_nan=False)


class AttributePatch(Request):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"strength": 0.4}, {"polarity": "dislike"}]}
    )

    text: str | None = Field(default=None, **ATTRIBUTE_TEXT)
    category: Category | None = None
    polarity: Polarity | None = None
    strength: Number | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)


class SearchHit(BaseModel):
    attribute: AttributeOut
    score: float


class CategoryGroup(BaseModel):
    category: Category
    likes: list[AttributeOut]
    dislikes: list[AttributeOut]


class PreferencesOut(BaseModel):
    user_id: str
    version: int
    groups: list[CategoryGroup]

    @classmethod
    def from_profile(cls, profile: Profile) -> PreferencesOut:
        groups = []
        for category, by_polarity in profile.grouped().items():
            groups.append(
                CategoryGroup(
                    category=category,
                    likes=[AttributeOut.of(a) for a in by_polarity.get(Polarity.LIKE, [])],
                    dislikes=[AttributeOut.of(a) for a in by_polarity.get(Polarity.DISLIKE, [])],
                )
            )
        return cls(user_id=profile.user_id, version=profile.version, groups=groups)


# -- gallery --------------------------------------------------------------------------------


class GalleryImageOut(BaseModel):
    id: str
    description: str
    url: str
    tags: list[dict[str, str]]


# -- onboarding -----------------------------------------------------------------------------


class ImageRef(BaseModel):
    id: str
    description: str
    url: str


class OnboardingStarted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "4f0c…",
                    "message": "Hi! What do you like or dislike about this image?",
                    "image": {"id": "deco-poster", "description": "…", "url": "/v1/gallery/…"},
                }
            ]
        }
    )

    id: str
    message: str
    image: ImageRef | None


class OnboardingMessageIn(Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "love the teal blues, but the clutter bothers me"},
                {"text": "skip"},
            ]
        },
    )

    text: str = Field(
        min_length=1, description="A comment on the current image, or 'skip' or 'done'."
    )


class ExtractedOut(BaseModel):
    text: str
    category: Category
    polarity: Polarity
    strength: float
    index: int | None = Field(
        default=None, description="Its place in the extraction (the attribute_index to correct)."
    )
    id: str | None = Field(
        default=None, description="After feedback: the stored attribute (PATCH/DELETE to fix)."
    )


class UnsureOut(BaseModel):
    """A feature the agent could not tell whether you liked: answer with a correction on
    `index` (`like`, `dislike`, or `drop` for neither). Never stored unanswered."""

    index: int = Field(description="Continues the numbering of `extracted`.")
    text: str
    category: Category
    question: str


class OnboardingTurnOut(BaseModel):
    reply: str
    image: ImageRef | None
    extracted: list[ExtractedOut]
    unsure: list[UnsureOut] = Field(
        default_factory=list, description="Features the agent asks about instead of guessing."
    )
    can_finish: bool
    done: bool
    message_id: int | None = Field(
        default=None, description="The id of the person's message this turn answered."
    )
    extracted_from: int | None = Field(
        default=None, description="The message whose attributes `extracted` lists (to correct)."
    )


class CorrectionIn(Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"attribute_index": 0, "action": "flip"},
                {"attribute_index": 1, "action": "edit", "text": "soft morning fog"},
                {"attribute_index": 2, "action": "like"},
            ]
        },
    )

    attribute_index: Int = Field(
        ge=0, le=MAX_SQL_INTEGER, description="0-based, as `index` in `extracted` or `unsure`."
    )
    action: Literal["flip", "drop", "edit", "like", "dislike"] = Field(
        description="`like`/`dislike` set the polarity (and answer a question about an unsure "
        "feature); `drop` removes it (for an unsure one: neither)."
    )
    text: Line | None = Field(default=None, min_length=1, description="The new text of an edit.")


class OnboardingFinished(BaseModel):
    message: str
    profile_version: int
    attribute_count: int


class TranscriptMessage(BaseModel):
    id: int
    role: str
    kind: str
    text: str
    image_id: str | None
    extracted: list[ExtractedOut] | None = Field(
        default=None, description="What the extractor read in a comment, as it said it."
    )
    corrected: list[ExtractedOut] | None = Field(
        default=None, description="The same after the person's corrections (null: none made)."
    )


class TranscriptOut(BaseModel):
    id: str
    status: str
    image: ImageRef | None
    messages: list[TranscriptMessage]


# -- generations ----------------------------------------------------------------------------


PALP_FIELD_NAMES = {
    "steps": "steps",
    "rank": "rank",
    "alpha": "alpha",
    "beta": "beta",
    "learning_rate": "lr",
}
PALP_FIELDS = {f"palp_{short}" for short in PALP_FIELD_NAMES.values()}


class GenerationCreate(Request):
    """The generate CLI's flags in snake_case; every setting is optional."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"prompt": "a lighthouse at dusk", "steps": 20, "seed": 7, "include_plain": True}
            ]
        },
    )

    prompt: str = Field(min_length=1, description="What to draw.")
    negative_prompt: str = ""
    steps: Int | None = Field(default=None, ge=1)
    guidance_scale: Number | None = Field(default=None, ge=0.0, le=30.0, allow_inf_nan=False)
    seed: Int | None = Field(default=None, ge=0, lt=2**63)
    width: Int | None = Field(default=None, ge=64, multiple_of=8)
    height: Int | None = Field(default=None, ge=64, multiple_of=8)
    num_images: Int | None = Field(default=None, ge=1)
    vp_degree: Number | None = Field(default=None, ge=0.0, le=2.0, allow_inf_nan=False)
    aesthetic_steps: Int | None = Field(default=None, ge=0, le=50)
    aesthetic_lr: Number | None = Field(default=None, gt=0.0, le=1e-2, allow_inf_nan=False)
    mode: Literal["embeds", "guidance", "palp"] | None = Field(
        default=None,
        description="embeds (free), guidance (an extra UNet pass, ~1.4–1.7×) or palp: an adapter "
        "is trained for this prompt first (PALP; ~500 steps of ~6 UNet passes each: minutes on "
        "a GPU), cached per prompt and profile version.",
    )
    palp_steps: Int | None = Field(default=None, ge=0, le=PALP_MAX_STEPS)
    palp_rank: Int | None = Field(default=None, ge=1, le=PALP_MAX_RANK)
    palp_alpha: Number | None = Field(
        default=None,
        ge=0.0,
        le=50.0,
        allow_inf_nan=False,
        description="Guidance towards the prompt; must be greater than palp_beta (the "
        "defaults: 15 > 7.5).",
    )
    palp_beta: Number | None = Field(
        default=None,
        ge=0.0,
        le=50.0,
        allow_inf_nan=False,
        description="Guidance towards the person's taste; must be less than palp_alpha.",
    )
    palp_lr: Number | None = Field(default=None, gt=0.0, le=1e-2, allow_inf_nan=False)
    style_weight: Number | None = Field(default=None, ge=0.0, le=2.0, allow_inf_nan=False)
    negative_style_weight: Number | None = Field(default=None, ge=0.0, le=2.0, allow_inf_nan=False)
    include_plain: bool = Field(
        default=False,
        strict=True,
        description="Also render the plain model's image (same seed, no personalization), "
        "to compare side by side. Doubles the work.",
    )

    def settings(self) -> dict[str, Any]:
        """The generation settings that were given (the rest keep the generator's defaults);
        PALP conditions like ``embeds``, with its adapter on top."""
        given = self.model_dump(
            exclude={"prompt", "negative_prompt", "include_plain", *PALP_FIELDS},
            exclude_none=True,
        )
        if given.get("mode") == "palp":
            given["mode"] = "embeds"
        return given

    def palp(self) -> PalpRequest | None:
        """The PALP options when ``mode`` is palp (defaults for those left out)."""
        if self.mode != "palp":
            return None
        given = {
            name: getattr(self, f"palp_{short}")
            for name, short in PALP_FIELD_NAMES.items()
            if getattr(self, f"palp_{short}") is not None
        }
        return PalpRequest(**given)


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
    timings: dict[str, float]
    image_urls: list[str]
    plain_image_urls: list[str]


class FeedbackIn(Feedback):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"liked": True, "comment": "love the soft golden light"}]},
    )


class FeedbackOut(BaseModel):
    profile_version: int
    extracted: list[ExtractedOut]
    readback: str | None = Field(
        default=None, description="What was understood: 'Noted: 1 + soft light, 2 − clutter.'"
    )
    note: str | None = None


class Problem(BaseModel):
    """Every error answer: one human sentence."""

    detail: str


class StyleCreate(Request):
    """Train a style token from the profile's liked (or, ``negative``, disliked) images."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"steps": 300}]})

    steps: Int = Field(
        default=500,
        ge=1,
        le=MAX_TRAINING_STEPS,
        description="Most steps; training stops early on a plateau.",
    )
    vectors: Int = Field(
        default=1, ge=1, le=MAX_TRAINED_VECTORS, description="Vectors in the token."
    )
    lr: Number = Field(default=5e-3, gt=0.0, le=MAX_TRAINING_LR, allow_inf_nan=False)
    negative: bool = False


class StyleOut(BaseModel):
    id: str
    name: str
    model: str
    family: str
    negative: bool
    source: str
    profile_version: int | None
    steps: int
    losses: list[float]
    image_count: int
    created_at: datetime
