"""The LLM extractor: ViPer's extraction prompt through langchain-openai's structured output.

The chat model is injected (a ``ChatOpenAI`` built in ``api/``), so this module never reads
settings. Transport faults (HTTP 5xx, 429, timeouts) are retried by the openai client itself,
a bounded number of times set on the client; an answer that does not validate is sent back to
the model with the error, at most ``max_validation_retries`` times (instructor's pattern), then
``ExtractionError``. Every attribute must carry evidence from the comment or the image; the rest
are dropped, and so is anything taken from an instruction hidden in the comment.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from pathlib import Path
from typing import Any, Literal

import openai
from langchain_core.exceptions import ModelError, OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

import prompts
from agent.extraction import Extraction, ExtractionError, ImageContext, clean_comment
from agent.guard import supported
from preference_store.models import (
    MAX_ATTRIBUTE_CHARS,
    MAX_ATTRIBUTE_WORDS,
    AttributeDraft,
    Category,
    Polarity,
    normalize_attribute_text,
)

MAX_IMAGE_BYTES = 4_000_000


class ExtractedFeature(BaseModel):
    """One feature as the model must state it."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="Concise keyword phrase, at most 6 words.")
    category: Category
    evidence: str = Field(description="The exact words of the comment (or image description).")

    @field_validator("text")
    @classmethod
    def _concise(cls, value: str) -> str:
        words = value.split()
        if not words:
            raise ValueError("feature text is empty")
        if len(words) > MAX_ATTRIBUTE_WORDS or len(value) > MAX_ATTRIBUTE_CHARS:
            raise ValueError(
                f"feature {value!r} is too long: use at most {MAX_ATTRIBUTE_WORDS} words"
            )
        return value.strip()


class ExtractedPreferences(BaseModel):
    """The structured answer: liked and disliked features (both may be empty)."""

    model_config = ConfigDict(extra="forbid")

    liked: list[ExtractedFeature]
    disliked: list[ExtractedFeature]


# Answers worth sending back with the error: bad JSON, schema violations, a truncated answer.
_RECOVERABLE = (
    ValidationError,
    OutputParserException,
    json.JSONDecodeError,
    ValueError,
    openai.LengthFinishReasonError,
    openai.ContentFilterFinishReasonError,
)


class LLMExtractor:
    """Extraction by a chat model with structured output, validated and evidence-checked."""

    def __init__(
        self,
        chat_model: BaseChatModel,
        *,
        vision: bool = False,
        max_validation_retries: int = 2,
        method: Literal["json_schema", "function_calling"] = "json_schema",
    ) -> None:
        self._structured = chat_model.with_structured_output(ExtractedPreferences, method=method)
        self._vision = vision
        self._max_validation_retries = max_validation_retries

    def extract(self, comment: str, image: ImageContext | None = None) -> Extraction:
        text = clean_comment(comment)
        messages: list[BaseMessage] = [
            SystemMessage(prompts.load("extraction_system")),
            self._user_message(text, image),
        ]
        last_error = ""
        for _attempt in range(1 + self._max_validation_retries):
            try:
                answer = self._structured.invoke(messages)
            except openai.APIError as error:  # transport: already retried by the client
                raise ExtractionError(f"the language model is unavailable: {error}") from error
            except ModelError as error:  # refusal, context overflow...: a retry will not help
                raise ExtractionError(f"the language model failed: {error}") from error
            except _RECOVERABLE as error:
                last_error = _short(error)
                messages.append(HumanMessage(prompts.render("extraction_retry", error=last_error)))
                continue
            if not isinstance(answer, ExtractedPreferences):
                last_error = f"expected the schema, got {type(answer).__name__}"
                messages.append(HumanMessage(prompts.render("extraction_retry", error=last_error)))
                continue
            return self._to_extraction(answer, text, image)
        raise ExtractionError(
            f"the language model gave no valid answer after {self._max_validation_retries} "
            f"retries: {last_error}"
        )

    def _user_message(self, comment: str, image: ImageContext | None) -> HumanMessage:
        tags = ", ".join(f"{t.text} ({t.category.value})" for t in image.tags) if image else ""
        text = prompts.render(
            "extraction_user",
            description=(image.description if image else "") or "(none)",
            tags=tags or "(none)",
            comment=json.dumps(comment, ensure_ascii=False),
        )
        data_url = self._image_data_url(image) if self._vision and image else None
        if data_url is None:
            return HumanMessage(text)
        content: list[str | dict[str, Any]] = [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": data_url}},
        ]
        return HumanMessage(content=content)

    @staticmethod
    def _image_data_url(image: ImageContext) -> str | None:
        if not image.path:
            return None
        path = Path(image.path)
        if not path.is_file() or path.stat().st_size > MAX_IMAGE_BYTES:
            return None
        mime = mimetypes.guess_type(path.name)[0] or "image/png"
        return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"

    @staticmethod
    def _to_extraction(
        answer: ExtractedPreferences, comment: str, image: ImageContext | None
    ) -> Extraction:
        drafts: dict[str, AttributeDraft] = {}
        notes: list[str] = []
        ignored: list[str] = []
        liked_keys = {normalize_attribute_text(f.text) for f in answer.liked}
        disliked_keys = {normalize_attribute_text(f.text) for f in answer.disliked}
        both = liked_keys & disliked_keys
        lists = ((Polarity.LIKE, answer.liked), (Polarity.DISLIKE, answer.disliked))
        for polarity, features in lists:
            for feature in features:
                key = normalize_attribute_text(feature.text)  # the store's merge key
                if key in both:
                    continue  # ViPer: a feature in both lists is dropped
                if feature.category is Category.SUBJECT:
                    ignored.append(feature.text)
                    continue
                draft = AttributeDraft(
                    text=feature.text,
                    category=feature.category,
                    polarity=polarity,
                    strength=0.7,
                    evidence=[feature.evidence],
                )
                if not supported(draft, comment, image):
                    ignored.append(feature.text)
                    notes.append(f"dropped {feature.text!r}: no evidence in the comment or image")
                    continue
                drafts.setdefault(key, draft)
        for key in sorted(both):
            notes.append(f"{key!r} was both liked and disliked; left out")
        attributes = list(drafts.values())
        likes = sum(1 for a in attributes if a.polarity is Polarity.LIKE)
        dislikes = len(attributes) - likes
        overall = None
        if likes != dislikes:
            overall = Polarity.LIKE if likes > dislikes else Polarity.DISLIKE
        own = [a for a in attributes if supported(a, comment, None)]
        return Extraction(
            attributes=attributes,
            overall=overall,
            vague=bool(attributes) and not own,  # every feature was named from the image
            no_opinion=not attributes,
            ignored=ignored,
            notes=notes,
            extractor="llm",
        )


def _short(error: Exception, limit: int = 600) -> str:
    text = str(error).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."
