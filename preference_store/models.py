"""The domain model of a person's visual taste.

A profile is a set of liked and disliked *visual attributes* (short keyword phrases such as
"teal palette" or "cluttered composition"), the sample images the person reacted to, and the
aesthetic embeddings computed from the liked images. Every change makes a new profile version.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from preference_store.merge_key import merge_key
from preference_store.text import MAX_SQL_INTEGER, Line, Paragraph, clean_text, is_stored

MAX_ATTRIBUTE_WORDS = 6
MAX_ATTRIBUTE_CHARS = 80
# The word bound as a pattern, for schemas (the validator below gives the friendlier message).
ATTRIBUTE_TEXT_PATTERN = rf"^\s*\S+(\s+\S+){{0,{MAX_ATTRIBUTE_WORDS - 1}}}\s*$"
MAX_EVIDENCE_CHARS = 2_000
USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
# Whom a profile belongs to: an account's user id (its default profile) or a named profile's
# owner key, "~" + 32 hex digits, which no user id can be (preference_store/profiles.py).
OWNER_ID_PATTERN = r"^(?:[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}|~[0-9a-f]{32})$"
# The id pattern every route takes; what an import brings must fit it, or it could never be
# edited or deleted again.
ATTRIBUTE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_VERSION = MAX_SQL_INTEGER  # a version is an SQL integer
DEFAULT_MAX_ATTRIBUTES = 1_000

UserId = Annotated[str, StringConstraints(pattern=OWNER_ID_PATTERN)]


class Category(StrEnum):
    """What aspect of an image an attribute describes (ViPer's art-feature families)."""

    COLOR = "color"
    LIGHTING = "lighting"
    COMPOSITION = "composition"
    STYLE = "style"
    MEDIUM = "medium"
    TEXTURE = "texture"
    MOOD = "mood"
    DETAIL = "detail"
    PERSPECTIVE = "perspective"
    SUBJECT = "subject"
    OTHER = "other"


class Polarity(StrEnum):
    LIKE = "like"
    DISLIKE = "dislike"

    @property
    def opposite(self) -> Polarity:
        return Polarity.DISLIKE if self is Polarity.LIKE else Polarity.LIKE


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


_SPACES = re.compile(r"\s+")
_EDGE_PUNCTUATION = " \t\n.,;:!?\"'`()[]{}"


def clean_attribute_text(text: str) -> str:
    """Trim and collapse whitespace, in NFC; the phrase a person sees."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip(_EDGE_PUNCTUATION)


def normalize_attribute_text(text: str) -> str:
    """The key two attributes are merged on: case, spacing, British/American spelling, plurals
    and the order of modifiers do not make a new attribute (``merge_key``)."""
    return merge_key(clean_attribute_text(text)) or clean_attribute_text(text).casefold()


def _validate_phrase(text: str, stored: bool = False) -> str:
    cleaned = clean_attribute_text(text if stored else clean_text(text))
    if not cleaned:
        raise ValueError("attribute text is empty")
    if len(cleaned) > MAX_ATTRIBUTE_CHARS:
        raise ValueError(
            f"attribute text has {len(cleaned)} characters; keep it to a concise phrase "
            f"of at most {MAX_ATTRIBUTE_CHARS}"
        )
    if len(cleaned.split()) > MAX_ATTRIBUTE_WORDS:
        raise ValueError(
            f"attribute text has {len(cleaned.split())} words; "
            f"use a keyword phrase of at most {MAX_ATTRIBUTE_WORDS}"
        )
    return cleaned


class AttributeDraft(BaseModel):
    """An attribute as an extractor or a person states it, before the store gives it an id."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="A concise keyword phrase, e.g. 'teal palette'.")
    category: Category = Category.OTHER
    polarity: Polarity
    strength: float = Field(default=0.7, ge=0.0, le=1.0, allow_inf_nan=False)
    evidence: list[Paragraph] = Field(
        default_factory=list, description="The person's own words this attribute came from."
    )
    source: Line | None = Field(default=None, description="Message or image id it came from.")

    @field_validator("text")
    @classmethod
    def _phrase(cls, value: str, info: ValidationInfo) -> str:
        return _validate_phrase(value, is_stored(info))

    @field_validator("evidence")
    @classmethod
    def _evidence(cls, value: list[str]) -> list[str]:
        cleaned = [e.strip()[:MAX_EVIDENCE_CHARS] for e in value if e and e.strip()]
        return list(dict.fromkeys(cleaned))


class VisualAttribute(AttributeDraft):
    """A stored attribute: a draft plus identity, owner and time."""

    id: str = Field(default_factory=new_id)
    user_id: UserId
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    @property
    def normalized_text(self) -> str:
        return normalize_attribute_text(self.text)


class AttributeUpdate(BaseModel):
    """A partial edit of one attribute; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    category: Category | None = None
    polarity: Polarity | None = None
    strength: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)

    @field_validator("text")
    @classmethod
    def _phrase(cls, value: str | None) -> str | None:
        return None if value is None else _validate_phrase(value)


class ImageReaction(BaseModel):
    """How much a person liked one sample image; the aesthetic embedding is built from these."""

    model_config = ConfigDict(extra="forbid")

    image_id: Line = Field(min_length=1, max_length=200)
    weight: float = Field(default=1.0, gt=0.0, le=1.0, allow_inf_nan=False)
    path: Line | None = Field(default=None, description="Where the image file is, if known.")
    chosen: bool = Field(
        default=False,
        description="Picked in 'which do you prefer?' pairs, not said in words: its weight is "
        "the taste model's confidence, and the taste model's prior skips it (it learned it).",
    )


class Profile(BaseModel):
    """Everything the store believes about one person's taste, at one version."""

    user_id: UserId
    version: int = Field(default=0, ge=0, le=MAX_VERSION)
    attributes: list[VisualAttribute] = Field(default_factory=list)
    liked_images: list[ImageReaction] = Field(default_factory=list)
    disliked_images: list[ImageReaction] = Field(default_factory=list)
    aesthetic_embeddings: dict[Line, list[FiniteFloat]] = Field(
        default_factory=dict, description="CLIP model name -> aesthetic embedding."
    )
    updated_at: datetime = Field(default_factory=utc_now)

    def liked(self) -> list[VisualAttribute]:
        return [a for a in self.attributes if a.polarity is Polarity.LIKE]

    def disliked(self) -> list[VisualAttribute]:
        return [a for a in self.attributes if a.polarity is Polarity.DISLIKE]

    def grouped(self) -> dict[Category, dict[Polarity, list[VisualAttribute]]]:
        """Attributes by category (in ``Category`` order), then polarity, strongest first;
        empty groups left out."""
        order = {category: index for index, category in enumerate(Category)}
        groups: dict[Category, dict[Polarity, list[VisualAttribute]]] = {}
        ranked = sorted(self.attributes, key=lambda a: (order[a.category], -a.strength, a.text))
        for attribute in ranked:
            groups.setdefault(attribute.category, {}).setdefault(attribute.polarity, []).append(
                attribute
            )
        return groups


class ProfileVersionInfo(BaseModel):
    """One entry of a profile's history."""

    version: int
    created_at: datetime
    reason: str
    attribute_count: int


class ScoredAttribute(BaseModel):
    """A search hit: the attribute and how close it is to the query (cosine similarity)."""

    attribute: VisualAttribute
    score: float
