"""Request and response schemas of the HTTP API, kept apart from the domain model.

Requests forbid unknown fields (a typo is a 422, not a silently ignored setting); responses carry
OpenAPI examples so ``/docs`` shows what a call looks like.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, Strict

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
from preference_store.styles import (
    DEFAULT_TRAINED_VECTORS,
    DEFAULT_TRAINING_LR,
    DEFAULT_TRAINING_STEPS,
    MAX_TRAINED_VECTORS,
    MAX_TRAINING_LR,
    MAX_TRAINING_STEPS,
)
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


class WhyAsk(BaseModel):
    """ "What made you pick that one?" about the pair just answered (a surprising pick)."""

    pair_id: str = Field(description="The pair answered; POST the answer to its `why`.")
    image_id: str = Field(description="The image picked.")
    question: str


class PairOut(BaseModel):
    """Two gallery images to choose between."""

    pair_id: str
    left: ImageRef
    right: ImageRef
    why: WhyAsk | None = Field(
        default=None, description="A question about the answer just given, now and then."
    )


class WhyIn(Request):
    text: str = Field(
        min_length=1,
        max_length=20_000,
        description="What made you pick it, in your words (read like a comment on that image).",
    )


class WhyOut(BaseModel):
    learned: list[AttributeOut] = Field(description="What was stored from the answer.")
    message: str


class ChoiceIn(Request):
    pair_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    choice: Literal["left", "right", "neither", "skip"] = Field(
        description="Which one you prefer; `neither` likes neither, `skip` says nothing."
    )


class RankedImageOut(BaseModel):
    image_id: str
    description: str
    url: str
    taste_match: float = Field(description="0-1: how well it fits your taste; 0.5 no opinion.")


class TasteOut(BaseModel):
    choices: int = Field(description="Answered pairs (and reactions) the model learned from.")
    ranking: list[RankedImageOut] = Field(description="The gallery, best taste match first.")
    agreement: float | None = Field(
        description="Share of your answers that went the way the model predicted (null: none yet)."
    )
    agreement_of: int = Field(description="How many answers the agreement counts.")


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


# -- feedback and styles ----------------------------------------------------------------


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
        default=DEFAULT_TRAINING_STEPS,
        ge=1,
        le=MAX_TRAINING_STEPS,
        description="Most steps; training stops early on a plateau.",
    )
    vectors: Int = Field(
        default=DEFAULT_TRAINED_VECTORS,
        ge=1,
        le=MAX_TRAINED_VECTORS,
        description="Vectors in the token.",
    )
    lr: Number = Field(default=DEFAULT_TRAINING_LR, gt=0.0, le=MAX_TRAINING_LR, allow_inf_nan=False)
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
    cancelled: bool = False  # training was stopped at ``steps``; never the default unless chosen
    default: bool = False  # the token generation uses for this model and polarity
