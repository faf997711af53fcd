"""What a person changes about how a comment was read, as the agent takes it: typed corrections
against the latest read-back, clicks on chips, and answers to the agent's questions about unsure
features. Each is stored beside the message it corrects (``agent.sessions``) and folded over the
extractor's answer whenever the reading is needed (``agent.corrections.apply``).

The ``Corrector`` holds no conversation state of its own; ``OnboardingAgent`` turns what it
returns into the agent's replies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pydantic import ValidationError

from agent import asking, corrections
from agent.asking import OpenQuestion
from agent.consolidate import verdict_of
from agent.extraction import Extractor
from agent.onboarding_errors import InvalidCorrection, UnknownMessage
from agent.policy import COMMENT_KINDS
from agent.sessions import USER, SessionInfo, StoredCorrection, StoredMessage
from agent.turn_reads import TurnReads
from preference_store.models import AttributeDraft, Category, Polarity

CORRECTABLE = COMMENT_KINDS


class Corrector:
    """Reads, parses and stores corrections and answers for one agent's sessions."""

    def __init__(self, sessions: TurnReads, extractor: Extractor) -> None:
        self._sessions = sessions
        self._extractor = extractor

    # -- readings -------------------------------------------------------------------------------

    def reading(self, message: StoredMessage) -> corrections.Reading:
        """The message's attributes and unsure items after its corrections and answers."""
        if message.extraction is None:
            return corrections.Reading((), frozenset(), changed=False)
        stored = self._sessions.corrections(message.session_id).get(message.id, [])
        return corrections.apply(message.extraction, stored, message.text)

    def corrected_messages(
        self, session_id: str, messages: list[StoredMessage]
    ) -> list[StoredMessage]:
        """Messages whose extraction reflects the person's corrections (what the finish
        stores); the stored extraction itself is never changed."""
        stored = self._sessions.corrections(session_id)
        return [_corrected_message(m, stored.get(m.id, [])) for m in messages]

    def transcript(
        self, session_id: str, messages: list[StoredMessage]
    ) -> list[tuple[StoredMessage, list[AttributeDraft | None] | None]]:
        """Each message with its attributes after corrections (``None`` where it has none)."""
        stored = self._sessions.corrections(session_id)
        return [
            (
                m,
                corrections.apply(m.extraction, stored[m.id], m.text).noted()
                if m.extraction is not None and m.id in stored
                else None,
            )
            for m in messages
        ]

    def correctable(self, session_id: str, message_id: int) -> StoredMessage:
        for message in self._sessions.messages(session_id):
            correctable = message.role == USER and message.kind in CORRECTABLE
            if message.id == message_id and correctable and message.extraction is not None:
                return message
        raise UnknownMessage(session_id, message_id)

    def last_comment(self, session_id: str) -> StoredMessage | None:
        """The comment the latest read-back was about: what a typed correction refers to."""
        for message in reversed(self._sessions.messages(session_id)):
            if message.role == USER and message.kind in CORRECTABLE:
                return message if message.extraction is not None else None
        return None

    # -- typed corrections and clicks ------------------------------------------------------------

    def parse(self, info: SessionInfo, text: str) -> tuple[corrections.Plan, str] | None:
        """What a typed correction asks for, and whether it was a command or words; ``None``
        when the text is an ordinary comment."""
        target = self.last_comment(info.id)
        if target is None:
            return None
        reading = self.reading(target)
        command = corrections.parse_command(text, reading.items, reading.open)
        if command is not None:
            return command, corrections.COMMAND
        words = corrections.parse_words(text, reading.noted(), self._extractor)
        if isinstance(words, corrections.Question) and info.awaiting_followup:
            return None  # "no, it's too busy" answers the follow-up question: not a correction
        return (words, corrections.WORDS) if words is not None else None

    def take_typed(
        self,
        info: SessionInfo,
        message: StoredMessage,
        target: StoredMessage,
        parsed: tuple[corrections.Plan, str] | None,
    ) -> None:
        """Store what the person typed against ``target``'s read-back; InvalidCorrection (one
        short question, nothing stored) when it cannot be pinned down. Idempotent: a correction
        stored before a crash is not stored twice on resume."""
        said = self._sessions.corrections(info.id).get(target.id, [])
        if any(c.said_in == message.id for c in said):
            return
        parsed = parsed or self.parse(info, message.text)
        plan, via = parsed if parsed is not None else (None, corrections.WORDS)
        if isinstance(plan, corrections.Question) or plan is None:
            raise InvalidCorrection(plan.text if plan else "Which one should I change?")
        changes = [
            self.edit(c.attribute_index, c.text, c.category) if c.action == "edit" else c
            for c in plan
        ]
        words = message.text if via == corrections.WORDS else None
        self.store(info, target, changes, words=words, via=via, said_in=message)

    def take_click(
        self,
        info: SessionInfo,
        target: StoredMessage,
        index: int,
        action: str,
        text: str | None,
        asked: OpenQuestion | None,
    ) -> bool:
        """Store a click on item ``index`` of ``target``; whether it answered ``asked``."""
        current = self.reading(target).items
        if action not in corrections.ACTIONS:
            raise InvalidCorrection(f"action must be one of {', '.join(corrections.ACTIONS)}")
        count = len(current)
        if not 0 <= index < count:
            raise InvalidCorrection(
                f"attribute_index {index} is out of range: comment {target.id} has "
                f"{count} extracted attribute{'' if count == 1 else 's'}"
                + (f" (0 to {count - 1})" if count else "")
            )
        if current[index] is None:
            raise InvalidCorrection(f"attribute {index} was already removed")
        change = corrections.Change(index, action)
        if action == corrections.EDIT:
            change = self.edit(index, text)
        self.store(info, target, [change], words=None, via=corrections.CLICK)
        answers = action != corrections.EDIT and asked is not None
        return bool(answers and asked and (asked.target.id, asked.index) == (target.id, index))

    def edit(
        self, index: int, text: str | None, category: Category | None = None
    ) -> corrections.Change:
        if not text or not text.strip():
            raise InvalidCorrection("an edit needs the new text, e.g. 'soft morning fog'")
        try:
            cleaned = AttributeDraft(text=text, polarity=Polarity.LIKE).text
        except ValidationError as error:
            reason = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise InvalidCorrection(reason) from None
        category = category or corrections.category_of(cleaned, self._extractor)
        return corrections.Change(index, corrections.EDIT, text=cleaned, category=category)

    def store(
        self,
        info: SessionInfo,
        target: StoredMessage,
        changes: Sequence[corrections.Change],
        *,
        words: str | None,
        via: str,
        said_in: StoredMessage | None = None,
    ) -> None:
        assert target.extraction is not None
        self._sessions.add_corrections(
            info.id,
            target.id,
            changes,
            words=words,
            via=via,
            said_in=said_in.id if said_in else None,
            extractor=target.extraction.extractor,
        )

    # -- questions about unsure features ----------------------------------------------------------

    def open_question(self, messages: Sequence[StoredMessage]) -> OpenQuestion | None:
        return asking.open_question(messages, self.reading)

    def read_answer(self, text: str, asked: OpenQuestion) -> str | None:
        """``like``, ``dislike`` or ``neither`` when ``text`` answers ``asked``; else None."""
        item = self.reading(asked.target).items[asked.index]
        assert item is not None
        return asking.read_answer(text, item, self._extractor)

    def take_answer(
        self, info: SessionInfo, message: StoredMessage, asked: OpenQuestion, answer: str | None
    ) -> str:
        """Store the answer in ``message`` as a correction of the asked item; the answer.
        Idempotent: an answer stored before a crash is not stored twice on resume."""
        said = self._sessions.corrections(info.id).get(asked.target.id, [])
        if any(c.said_in == message.id for c in said):
            return answer or self.read_answer(message.text, asked) or asking.NEITHER
        answer = answer or self.read_answer(message.text, asked) or asking.NEITHER
        action = corrections.DROP if answer == asking.NEITHER else answer
        self.store(
            info,
            asked.target,
            [corrections.Change(asked.index, action)],
            words=message.text,
            via=corrections.ANSWER,
            said_in=message,
        )
        return answer


def asked_item(asked: OpenQuestion) -> AttributeDraft:
    """The asked item as the reader found it (what 'neither' leaves out)."""
    assert asked.target.extraction is not None
    offset = len(asked.target.extraction.attributes)
    return asked.target.extraction.unsure[asked.index - offset].attribute


def _corrected_message(message: StoredMessage, stored: list[StoredCorrection]) -> StoredMessage:
    """The message as the finish stores it: its attributes after corrections and answers (open
    unsure items left out), and, where the person changed any, the image's verdict read anew
    from them, so a corrected comment's image is liked or disliked as the person meant it."""
    if message.extraction is None:
        return message
    reading = corrections.apply(message.extraction, stored, message.text)
    attributes = reading.stored()
    update: dict[str, object] = {"attributes": attributes, "unsure": []}
    if reading.changed:
        update["overall"] = verdict_of(attributes)
    return replace(message, extraction=message.extraction.model_copy(update=update))
