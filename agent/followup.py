"""Follow-up questions: written by the LLM when one is configured, from a template otherwise.

Either way the question names something visible in the image (one of its tags); an LLM answer
that does not is replaced by the template, and so is any LLM failure. The LLM shares the
message's deadline with the extraction: when the extraction already fell back (or used the
time up), the template answers at once instead of waiting on the same broken server again.
langchain (~0.8 s of imports) loads with the first LLM question: the template needs none of it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Protocol

import prompts
from agent.gallery import GalleryImage
from agent.llm_deadline import MessageDeadline

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

MAX_QUESTION_CHARS = 300


class FollowupWriter(Protocol):
    def question(self, image: GalleryImage, comment: str, tag: str) -> str: ...


class TemplateFollowups:
    """A fixed, friendly question about one visible feature."""

    def question(self, image: GalleryImage, comment: str, tag: str) -> str:
        return (
            f"Could you say a bit more? For example, what do you think of this part of the image: "
            f'"{tag}"? Do you like it or not, and why?'
        )


class LLMFollowups:
    """The chat model words the question; the template answers when it cannot."""

    def __init__(
        self,
        chat_model: BaseChatModel,
        fallback: FollowupWriter | None = None,
        *,
        deadline: MessageDeadline | None = None,
    ) -> None:
        self._chat = chat_model
        self._fallback = fallback or TemplateFollowups()
        self._deadline = deadline

    def question(self, image: GalleryImage, comment: str, tag: str) -> str:
        from langchain_core.messages import HumanMessage, SystemMessage

        messages = [
            SystemMessage(prompts.load("followup_system")),
            HumanMessage(
                prompts.render(
                    "followup_user",
                    description=image.description,
                    tags=", ".join(t.text for t in image.tags) or image.description,
                    preferred=tag,
                    comment=json.dumps(comment, ensure_ascii=False),
                )
            ),
        ]
        turn = self._deadline.current(comment) if self._deadline else None
        if turn is not None and (turn.fell_back or turn.remaining() <= 0):
            return self._fallback.question(image, comment, tag)
        try:
            if turn is None:
                answer = self._chat.invoke(messages)
            else:
                answer = MessageDeadline.call(
                    turn, lambda left: self._chat.invoke(messages, timeout=left)
                )
        except Exception:  # any model failure: the template still asks a good question
            return self._fallback.question(image, comment, tag)
        text = answer.content if isinstance(answer.content, str) else ""
        text = " ".join(text.split())
        visible = [t.text.lower() for t in image.tags] or [tag.lower()]
        names_visible = any(v in text.lower() for v in visible)
        if not text or len(text) > MAX_QUESTION_CHARS or not names_visible:
            return self._fallback.question(image, comment, tag)
        return text
