"""Structured output from OpenAI-compatible servers that each accept a different subset of it.

OpenAI and vLLM take ``response_format: json_schema``; llama.cpp's server and Ollama take it in
recent versions and refuse it (400/422) in older ones; some have no tool support; many models
wrap JSON in markdown fences or pretty-print it. ``OutputModes`` tries the strictest form first
and, in ``auto``, moves on (and remembers) when a server refuses it or answers ``{}``.
``parse_answer`` reads whatever came back.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any, Literal, get_args

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.guard import content_stems
from agent.lexicon import STOPWORDS
from preference_store.models import MAX_ATTRIBUTE_CHARS, MAX_ATTRIBUTE_WORDS, Category

OutputMode = Literal["auto", "json_schema", "tools", "json_object", "text"]
MODES_IN_ORDER: tuple[OutputMode, ...] = ("json_schema", "tools", "json_object", "text")
TOOL_NAME = "record_preferences"
# At most MAX_ATTRIBUTE_WORDS words: servers with grammar-constrained decoding enforce it. Only
# a bracket class and a counted group, no backslash escapes: every regex-to-grammar converter
# (llama.cpp's, vLLM's, Ollama's) reads those the same way.
WORDS_PATTERN = rf"^[^ ]+( [^ ]+){{0,{MAX_ATTRIBUTE_WORDS - 1}}}$"


def _feature_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "text": {
                "type": "string",
                "description": f"Keyword phrase of at most {MAX_ATTRIBUTE_WORDS} words.",
                "minLength": 1,
                "maxLength": MAX_ATTRIBUTE_CHARS,
                "pattern": WORDS_PATTERN,
            },
            "category": {"type": "string", "enum": [c.value for c in Category]},
            "strength": {"type": "number", "minimum": 0, "maximum": 1},
            "evidence": {"type": "string", "description": "Exact words of the comment."},
        },
        "required": ["text", "category", "strength", "evidence"],
        "additionalProperties": False,
    }


ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "liked": {"type": "array", "items": _feature_schema()},
        "disliked": {"type": "array", "items": _feature_schema()},
    },
    "required": ["liked", "disliked"],
    "additionalProperties": False,
}


class ExtractedFeature(BaseModel):
    """One feature as a model states it; lenient where small models are sloppy."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=1)
    category: Category = Category.OTHER
    strength: float | None = None
    evidence: str = ""

    @field_validator("category", mode="before")
    @classmethod
    def _known_category(cls, value: Any) -> Any:
        text = str(value or "").strip().lower()
        return text if text in set(Category) else Category.OTHER

    @field_validator("strength", mode="before")
    @classmethod
    def _number(cls, value: Any) -> float | None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return min(1.0, max(0.05, number)) if number == number else None

    @field_validator("evidence", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return value if isinstance(value, str) else ""


class ExtractedPreferences(BaseModel):
    """The answer: liked and disliked features (both may be empty, one may be left out)."""

    model_config = ConfigDict(extra="ignore")

    liked: list[ExtractedFeature] = Field(default_factory=list)
    disliked: list[ExtractedFeature] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _has_a_list(cls, value: Any) -> Any:
        if isinstance(value, dict) and not ({"liked", "disliked"} & value.keys()):
            raise ValueError('the answer needs "liked" and "disliked" lists')
        return value


class EmptyAnswer(ValueError):
    """``{}`` or nothing at all: the server ignored the requested format."""


def request_kwargs(mode: OutputMode) -> dict[str, Any]:
    """What to add to the chat request for ``mode`` (the prompt always shows the shape too)."""
    if mode == "json_schema":
        schema = {"name": TOOL_NAME, "schema": ANSWER_SCHEMA, "strict": False}
        return {"response_format": {"type": "json_schema", "json_schema": schema}}
    if mode == "tools":
        function = {
            "name": TOOL_NAME,
            "description": "Record the liked and disliked art features.",
            "parameters": ANSWER_SCHEMA,
        }
        return {
            "tools": [{"type": "function", "function": function}],
            "tool_choice": {"type": "function", "function": {"name": TOOL_NAME}},
        }
    if mode == "json_object":
        return {"response_format": {"type": "json_object"}}
    return {}


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def parse_json_text(text: str) -> Any:
    """JSON from a model's text: bare, pretty-printed, in a markdown fence, or amid chatter."""
    candidate = text.strip()
    fenced = _FENCE.search(candidate)
    if fenced:
        candidate = fenced.group(1).strip()
    if not candidate:
        raise EmptyAnswer("the answer was empty")
    try:
        return json.loads(candidate)
    except json.JSONDecodeError:
        start, end = candidate.find("{"), candidate.rfind("}")
        if start == -1 or end <= start:
            raise
        return json.loads(candidate[start : end + 1])


def parse_answer(message: BaseMessage) -> ExtractedPreferences:
    """The answer in a tool call or in the content, validated; ``EmptyAnswer`` for ``{}``."""
    tool_calls = getattr(message, "tool_calls", None) or []
    invalid = getattr(message, "invalid_tool_calls", None) or []
    payload: Any
    if tool_calls:
        payload = tool_calls[0].get("args")
    elif invalid:
        payload = parse_json_text(str(invalid[0].get("args") or ""))
    else:
        content = message.content if isinstance(message.content, str) else message.text
        payload = parse_json_text(content)
    if payload in ({}, None, []):
        raise EmptyAnswer("the answer was an empty object")
    return ExtractedPreferences.model_validate(payload)


class OutputModes:
    """The output mode to use now; in ``auto``, the first one this server has not refused."""

    def __init__(self, mode: OutputMode = "auto") -> None:
        if mode not in get_args(OutputMode):
            raise ValueError(f"unknown output mode {mode!r}; use one of {get_args(OutputMode)}")
        self.configured = mode
        self._index = 0
        self._lock = threading.Lock()

    @property
    def current(self) -> OutputMode:
        if self.configured != "auto":
            return self.configured
        with self._lock:
            return MODES_IN_ORDER[self._index]

    def give_up_on(self, mode: OutputMode) -> bool:
        """The server refused ``mode``: move to the next one (remembered for later messages).
        False when there is nothing left to try (a fixed mode, or plain text already)."""
        if self.configured != "auto":
            return False
        with self._lock:
            if MODES_IN_ORDER[self._index] == mode and self._index + 1 < len(MODES_IN_ORDER):
                self._index += 1
            return MODES_IN_ORDER[self._index] != mode


def shorten(phrase: str, source: str = "") -> list[str]:
    """A phrase over the word bound, made into features instead of thrown away: split at
    "and"/commas/"with" into parts that each fit, then keep the content words of any part still
    too long: those the person used (``source``) when there are any, and the last ones, where
    English puts the head noun."""
    words = phrase.split()
    if len(words) <= MAX_ATTRIBUTE_WORDS and len(phrase) <= MAX_ATTRIBUTE_CHARS:
        return [phrase]
    parts = [p.strip() for p in re.split(r",|;|\band\b|\bwith\b|\bplus\b", phrase) if p.strip()]
    result: list[str] = []
    for part in parts:
        kept = [w for w in part.split() if w.lower().strip(".,!?") not in STOPWORDS]
        used = [w for w in kept if content_stems(w) and content_stems(w) <= content_stems(source)]
        kept = (used or kept)[-MAX_ATTRIBUTE_WORDS:]
        while kept and len(" ".join(kept)) > MAX_ATTRIBUTE_CHARS:
            kept = kept[1:]
        text = " ".join(kept)
        if text and content_stems(text) and text not in result:
            result.append(text)
    return result
