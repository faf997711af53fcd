"""The extractor interface: a comment on an image in, liked and disliked attributes out.

Two implementations share it: ``agent.llm_extractor.LLMExtractor`` and
``agent.offline.OfflineExtractor``; ``agent.fallback.FallbackExtractor`` chains them.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from preference_store.models import AttributeDraft, Category, Polarity

MAX_COMMENT_CHARS = 4_000


class ImageTag(BaseModel):
    """Something visible in an image, with the category it belongs to."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=80)
    category: Category


class ImageContext(BaseModel):
    """What the extractor may know about the image a comment is about."""

    model_config = ConfigDict(extra="forbid")

    image_id: str | None = None
    description: str = Field(default="", max_length=2_000)
    tags: list[ImageTag] = Field(default_factory=list)
    path: str | None = Field(default=None, description="Image file, sent to vision models.")

    def tags_in(self, category: Category) -> list[ImageTag]:
        return [t for t in self.tags if t.category is category]


def question_about(text: str) -> str:
    """The one short question the agent asks about an unsure feature (it also names the
    feature in the transcript, ``agent.asking``). Worded to fit a feature the image has ("the
    lens flare") and one the person wished for ("not saturated enough": the saturated colours)."""
    article = "" if text.split()[0].lower() in _DETERMINERS else "the "
    return f"Quick check — {article}{text}: is that something you like?"


_DETERMINERS = frozenset({"the", "a", "an", "this", "that", "these", "those", "its", "their"})


class UnsureItem(BaseModel):
    """A feature whose polarity the reader cannot vouch for (docs/design.md, "Asking when
    unsure"): the agent asks about it, and it is stored only with the person's answer."""

    model_config = ConfigDict(extra="forbid")

    attribute: AttributeDraft = Field(description="Its polarity is the reader's guess.")
    reason: str = Field(max_length=200, description="Why the reading is unsure, in words.")
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    readings: list[str] = Field(
        default_factory=list, description="How it was read (the calibration's keys)."
    )

    @property
    def question(self) -> str:
        return question_about(self.attribute.text)


class Extraction(BaseModel):
    """What one comment says about a person's taste.

    ``attributes`` may be empty: "no preference expressed" is a valid answer, not a failure.
    ``unsure`` are features the reader found but whose polarity it cannot vouch for: never
    stored unless the person answers. ``overall`` is the comment's verdict on the whole image
    when it has one (it decides whether the image counts as liked or disliked); ``vague`` means
    the comment gave an opinion but no specific feature of its own, so the agent should ask a
    follow-up.
    """

    attributes: list[AttributeDraft] = Field(default_factory=list)
    unsure: list[UnsureItem] = Field(default_factory=list)
    overall: Polarity | None = None
    vague: bool = False
    no_opinion: bool = False
    ignored: list[str] = Field(
        default_factory=list, description="Phrases left out: subject matter, instructions."
    )
    notes: list[str] = Field(default_factory=list, description="Why something was left out.")
    extractor: Literal["offline", "llm"] = "offline"
    fallback_reason: str | None = Field(
        default=None, description="Set when the LLM failed and the offline extractor answered."
    )

    def categories(self) -> set[Category]:
        return {a.category for a in self.attributes}


class Extractor(Protocol):
    """Anything that turns a comment (and the image it is about) into an ``Extraction``."""

    def extract(self, comment: str, image: ImageContext | None = None) -> Extraction: ...


class ExtractionError(Exception):
    """The extractor could not produce a valid answer (after its bounded retries)."""


class InvalidComment(ValueError):
    """The comment itself is unusable (empty, too long, binary); the message says why."""


_CONTROL = {c for c in range(32) if chr(c) not in "\t\n\r"} | {127}


def clean_comment(comment: str, *, max_chars: int = MAX_COMMENT_CHARS) -> str:
    """Validate a comment once for every extractor: strip control characters, bound the size."""
    if not isinstance(comment, str):
        raise InvalidComment("a comment must be text")
    cleaned = "".join(ch for ch in comment if ord(ch) not in _CONTROL).strip()
    if not cleaned:
        raise InvalidComment("the comment is empty; say what you like or dislike about the image")
    if len(cleaned) > max_chars:
        raise InvalidComment(
            f"the comment has {len(cleaned)} characters; keep it under {max_chars} "
            "(a few sentences about this image are plenty)"
        )
    return cleaned
