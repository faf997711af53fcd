"""The LLM extractor: ViPer's extraction prompt, answered in whatever structured form the server
supports, then held to what the person actually said.

The chat model is injected (a ``ChatOpenAI`` built in ``api/``), so this module never reads
settings. The order of one extraction:

1. Instruction-like text is removed from the comment before the model sees it
   (``agent.guard.strip_instructions``); it can never be evidence.
2. The model answers within the message's deadline (``agent.llm_deadline``), in the output mode
   the server accepts (``agent.llm_output``). An answer that does not parse goes back to the model
   with the error, at most ``max_validation_retries`` times (instructor's pattern).
3. Each feature is checked: over-long phrases are shortened or split, copies of the prompt's
   examples are dropped, evidence must be about the feature (``agent.guard.ground``), and the
   polarity must agree with the clause the evidence comes from (``polarity``), else the clause
   wins. Every change is written in the notes.

Failures raise ``LLMExtractionError`` with a short reason (timeout, refused, invalid, too long,
unavailable) that ``agent.fallback`` puts in the reply's notes.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Literal

import openai
from langchain_core.exceptions import ModelError
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import ValidationError

import prompts
from agent.extraction import (
    Extraction,
    ExtractionError,
    ImageContext,
    UnsureItem,
    clean_comment,
)
from agent.guard import (
    INSTRUCTION_NOTE,
    Stripped,
    echoes_example,
    ground,
    strip_instructions,
)
from agent.llm_deadline import DeadlineExceeded, MessageDeadline, Turn
from agent.llm_output import (
    EmptyAnswer,
    ExtractedFeature,
    ExtractedPreferences,
    OutputMode,
    OutputModes,
    parse_answer,
    request_kwargs,
    shorten,
)
from preference_store.models import AttributeDraft, Category, Polarity, normalize_attribute_text

__all__ = ["ExtractedFeature", "ExtractedPreferences", "LLMExtractionError", "LLMExtractor"]

MAX_IMAGE_BYTES = 4_000_000
DEFAULT_STRENGTH = 0.7
# Statuses with which servers say "I do not accept this request format".
REFUSAL_STATUSES = frozenset({400, 405, 415, 422, 501})

FailureReason = Literal["timeout", "refused", "invalid", "too long", "unavailable"]
PolarityCheck = Callable[[str, str], Polarity | None]


DISPUTED = "the model and the comment's own words disagree"
UNCHECKED = "the model misread this comment's other features, and its words here say nothing"


class LLMExtractionError(ExtractionError):
    """The LLM gave no usable answer; ``reason`` is the one-word why for notes and logs."""

    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@cache
def example_phrases() -> tuple[str, ...]:
    """Every quoted phrase in the system prompt: a small model may echo any of them."""
    return tuple(re.findall(r'"([^"{}\[\]:]{3,60})"', prompts.load("extraction_system")))


class LLMExtractor:
    """Extraction by a chat model, validated, grounded and polarity-checked."""

    def __init__(
        self,
        chat_model: BaseChatModel,
        *,
        vision: bool = False,
        max_validation_retries: int = 2,
        output_mode: OutputMode = "auto",
        method: Literal["json_schema", "function_calling"] | None = None,
        deadline: MessageDeadline | None = None,
        polarity: PolarityCheck | None = None,
    ) -> None:
        if method is not None:  # langchain's names, kept for callers that pass them
            output_mode = "tools" if method == "function_calling" else "json_schema"
        self._chat = chat_model
        self.modes = OutputModes(output_mode)
        self._vision = vision
        self._max_validation_retries = max_validation_retries
        self.deadline = deadline
        self._polarity = polarity

    def extract(self, comment: str, image: ImageContext | None = None) -> Extraction:
        text = clean_comment(comment)
        stripped = strip_instructions(text)
        turn = self.deadline.begin(comment) if self.deadline else None
        notes = [f"{INSTRUCTION_NOTE}: {r!r}" for r in stripped.removed]
        if not stripped.said:
            return Extraction(no_opinion=True, ignored=list(stripped.removed), notes=notes)
        messages: list[BaseMessage] = [
            SystemMessage(prompts.load("extraction_system")),
            self._user_message(stripped.text, image),
        ]
        try:
            answer = self._ask(messages, turn)
        except BaseException:
            if turn is not None:
                turn.fell_back = True  # the follow-up uses the template at once
            raise
        return self._to_extraction(answer, stripped, image, notes)

    # -- asking ------------------------------------------------------------------------------

    def _ask(self, messages: list[BaseMessage], turn: Turn | None) -> ExtractedPreferences:
        last_error = ""
        retries = 0
        while retries <= self._max_validation_retries:
            mode = self.modes.current
            try:
                return parse_answer(self._call(messages, mode, turn))
            except EmptyAnswer as error:
                if self.modes.give_up_on(mode):
                    continue  # the server ignored this format: the next one, no retry spent
                last_error = str(error)
            except (ValidationError, json.JSONDecodeError, ValueError) as error:
                last_error = _short(error)
            except openai.APIStatusError as error:
                if error.status_code in REFUSAL_STATUSES and self.modes.give_up_on(mode):
                    continue
                raise _failure(error, mode) from error
            except (
                openai.APIError,
                openai.LengthFinishReasonError,
                openai.ContentFilterFinishReasonError,
                ModelError,
                DeadlineExceeded,
            ) as error:
                raise _failure(error, mode) from error
            retries += 1
            messages = [
                *messages,
                HumanMessage(prompts.render("extraction_retry", error=last_error)),
            ]
        raise LLMExtractionError(
            "invalid",
            f"no valid answer after {self._max_validation_retries} retries: {last_error}",
        )

    def _call(
        self, messages: list[BaseMessage], mode: OutputMode, turn: Turn | None
    ) -> BaseMessage:
        kwargs = request_kwargs(mode)
        if turn is None:
            return self._chat.invoke(messages, **kwargs)
        return MessageDeadline.call(
            turn, lambda left: self._chat.invoke(messages, timeout=left, **kwargs)
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

    # -- checking ----------------------------------------------------------------------------

    def _to_extraction(
        self,
        answer: ExtractedPreferences,
        comment: Stripped,
        image: ImageContext | None,
        notes: list[str],
    ) -> Extraction:
        drafts: dict[str, AttributeDraft] = {}
        unsure: dict[str, UnsureItem] = {}
        ignored: list[str] = []
        from_image: set[str] = set()
        checked = {True: 0, False: 0}  # the clause's verdict agreed / disagreed with the model
        unchecked: list[str] = []  # drafts whose clause said nothing readable
        candidates = [
            (polarity, part, feature)
            for polarity, features in (
                (Polarity.LIKE, answer.liked),
                (Polarity.DISLIKE, answer.disliked),
            )
            for feature in features
            for part in self._phrases(feature, comment.said, notes)
        ]
        keys = {
            p: {normalize_attribute_text(t) for q, t, _ in candidates if q is p} for p in Polarity
        }
        both = keys[Polarity.LIKE] & keys[Polarity.DISLIKE]
        for polarity, text, feature in candidates:
            key = normalize_attribute_text(text)
            if key in both or key in drafts or key in unsure:
                continue  # ViPer: a feature in both lists is dropped
            if feature.category is Category.SUBJECT:
                ignored.append(text)
                continue
            if echoes_example(text, example_phrases(), comment, image):
                ignored.append(text)
                notes.append(f"dropped {text!r}: it copies the prompt's example, not the comment")
                continue
            grounding = ground(text, feature.evidence, comment, image)
            if not grounding.ok:
                ignored.append(text)
                notes.append(f"dropped {text!r}: {grounding.why_not}")
                continue
            draft = AttributeDraft(
                text=text,
                category=feature.category,
                polarity=polarity,
                strength=feature.strength if feature.strength is not None else DEFAULT_STRENGTH,
                evidence=[grounding.evidence],
            )
            agrees = (
                None
                if grounding.from_image
                else self._agrees(text, polarity, grounding.evidence, notes)
            )
            if grounding.from_image:
                from_image.add(key)
            elif agrees is None:
                unchecked.append(key)
            else:
                checked[agrees] += 1
            if agrees is False:
                unsure[key] = UnsureItem(attribute=draft, reason=DISPUTED, confidence=0.5)
                continue
            drafts[key] = draft
        if checked[False] > checked[True]:  # a model this comment caught misreading: ask
            for key in unchecked:
                unsure[key] = UnsureItem(
                    attribute=drafts.pop(key), reason=UNCHECKED, confidence=0.5
                )
        for key in sorted(both):
            notes.append(f"{key!r} was both liked and disliked; left out")
        attributes = list(drafts.values())
        likes = sum(1 for a in attributes if a.polarity is Polarity.LIKE)
        dislikes = len(attributes) - likes
        overall = None
        if likes != dislikes:
            overall = Polarity.LIKE if likes > dislikes else Polarity.DISLIKE
        return Extraction(
            attributes=attributes,
            unsure=list(unsure.values()),
            overall=overall,
            vague=bool(attributes) and len(from_image) == len(attributes),  # all named from image
            no_opinion=not attributes and not unsure,
            ignored=[*comment.removed, *ignored],
            notes=notes,
            extractor="llm",
        )

    @staticmethod
    def _phrases(feature: ExtractedFeature, said: str, notes: list[str]) -> list[str]:
        text = " ".join(feature.text.split())
        parts = shorten(text, said)
        if parts != [text]:
            notes.append(f"shortened {text!r} to {parts!r}: at most 6 words per feature")
        return parts

    def _agrees(self, text: str, said: Polarity, clause: str, notes: list[str]) -> bool | None:
        """Whether the clause agrees with the model's polarity; None when it says nothing
        readable. When they disagree, either may be wrong, and a stored wrong polarity steers
        generation toward what the person dislikes: the feature becomes unsure and the agent
        asks. (Siding with the clause turned 5 and 12 right answers wrong on the blind sets with
        a perfect model; dropping it lost features the model had right.) When the clause
        disagrees more often than it agrees within one comment, the model's unchecked features
        there are asked about too (``UNCHECKED``; docs/design.md, "Extractors")."""
        if self._polarity is None:
            return None
        verdict = self._polarity(text, clause)
        if verdict is None:
            return None
        if verdict is said:
            return True
        notes.append(
            f"polarity of {text!r}: the model said {said.value}, the clause {clause!r} reads "
            f"{verdict.value}; asked rather than guessed"
        )
        return False


def _failure(error: BaseException, mode: OutputMode) -> LLMExtractionError:
    """Name why the LLM failed, for the reply's notes and the log."""
    if isinstance(error, DeadlineExceeded | openai.APITimeoutError):
        return LLMExtractionError("timeout", _short(error))
    if isinstance(error, openai.LengthFinishReasonError):
        return LLMExtractionError("too long", "the answer was cut off at the token limit")
    if isinstance(error, openai.ContentFilterFinishReasonError):
        return LLMExtractionError("refused", "the server's content filter stopped the answer")
    if isinstance(error, openai.APIStatusError) and error.status_code in REFUSAL_STATUSES:
        return LLMExtractionError(
            "refused",
            f"the server refused the {mode} request ({error.status_code}): {_short(error)}",
        )
    if isinstance(error, openai.APIError):
        return LLMExtractionError(
            "unavailable", f"the language model is unavailable: {_short(error)}"
        )
    return LLMExtractionError("refused", f"the language model failed: {_short(error)}")


def _short(error: BaseException, limit: int = 600) -> str:
    text = str(error).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."
