"""The onboarding agent: shows images, reads comments, asks follow-ups, finishes the profile.

Every turn follows the same order: validate the input, commit the person's message, extract,
write the extraction onto that message, decide the reply by ``agent.policy``, commit the reply.
All state lives in the database (``agent.sessions``), so a new agent over the same database
continues any session, including a message that was stored but never answered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from agent import asking, corrections, policy
from agent.asking import OpenQuestion
from agent.consolidate import ImageVerdict, consolidate, image_reactions, verdict_of
from agent.extraction import Extraction, ExtractionError, Extractor, clean_comment
from agent.fallback import FALLBACK_NOTICE
from agent.followup import FollowupWriter, TemplateFollowups
from agent.gallery import Gallery, GalleryImage
from agent.sessions import (
    AGENT,
    FINISHED,
    FINISHING,
    USER,
    SessionInfo,
    SessionRepository,
    StoredCorrection,
    StoredMessage,
)
from preference_store.models import (
    AttributeDraft,
    Category,
    ImageReaction,
    Polarity,
    Profile,
)

SKIP_WORDS = {"skip", "/skip", "next", "pass"}
DONE_WORDS = {"done", "/done", "finish", "/finish"}
GREETING = (
    "Hi! I'll show you some images. For each one, tell me in your own words what you like and "
    "what you dislike about how it looks: colours, light, composition, style, texture, mood. "
    "Type 'skip' to skip an image and 'done' to finish. I'll read back what I noted, numbered; "
    "if I got one wrong, say so (\"no, I liked the fog\") or type e.g. 'fix 2 like' or 'drop 1'. "
    "When I can't tell whether you liked something, I'll ask: answer like, dislike or neither."
)
CORRECTABLE = {"comment", "followup"}


class OnboardingError(ValueError):
    """A request the agent cannot serve; the message tells the person what to do."""


class UnknownSession(OnboardingError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"no onboarding session {session_id!r}; start one with 'onboard USER'")


class SessionFinished(OnboardingError):
    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"onboarding session {session_id!r} is already finished; start a new one to add more"
        )


class SessionFinishing(SessionFinished):
    def __init__(self, session_id: str) -> None:
        OnboardingError.__init__(
            self, f"onboarding session {session_id!r} is being finished right now; wait a moment"
        )


class UnknownMessage(OnboardingError):
    def __init__(self, session_id: str, message_id: int) -> None:
        super().__init__(f"onboarding session {session_id!r} has no comment {message_id}")


class InvalidCorrection(OnboardingError):
    """A correction that cannot apply (no such attribute, no text for an edit, bad text)."""


class ProfileWriter(Protocol):
    """The part of the preference store the agent needs."""

    def record_onboarding(
        self,
        user_id: str,
        drafts: Sequence[AttributeDraft],
        liked_images: Sequence[ImageReaction],
        disliked_images: Sequence[ImageReaction],
        *,
        origin: str | None = None,
    ) -> Profile: ...


@dataclass(frozen=True)
class Turn:
    """What the agent answers: its text, the image to show next (if any), and the state."""

    session_id: str
    text: str
    image: GalleryImage | None = None
    image_path: Path | None = None
    can_finish: bool = False
    finished: bool = False
    profile: Profile | None = None
    used_fallback: bool = False
    learned: tuple[AttributeDraft, ...] = ()
    # Where each learned attribute sits in its message's extraction (what a correction names),
    # which message that is, and the person's message this turn answered.
    positions: tuple[int, ...] = ()
    # That message's features the agent is unsure of, by the same numbering (asked, not stored).
    unsure: tuple[tuple[int, AttributeDraft], ...] = ()
    learned_from: int | None = None
    message_id: int | None = None


ImageKeeper = Callable[[Path], str]
"""A gallery image's file here -> the ``ImageReaction.path`` to record: where every process that
later reads the liked image (aesthetic step, style training, PALP) finds it."""


def _local_file(path: Path) -> str:
    """Embedded: the gallery's file is on the one machine that reads it."""
    return str(path)


class OnboardingAgent:
    """One agent serves many sessions; it holds no per-session state in memory."""

    def __init__(
        self,
        *,
        sessions: SessionRepository,
        store: ProfileWriter,
        extractor: Extractor,
        gallery: Gallery,
        followups: FollowupWriter | None = None,
        keep_image: ImageKeeper | None = None,
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._extractor = extractor
        self._gallery = gallery
        self._followups = followups or TemplateFollowups()
        self._keep_image = keep_image or _local_file

    # -- public ---------------------------------------------------------------------------------

    def start(self, user_id: str) -> Turn:
        """A new session for ``user_id``: the greeting and the first image."""
        info = self._sessions.create(user_id, self._gallery.name)
        self._sessions.append(info.id, AGENT, "say", GREETING, None)
        return self._advance(info, [GREETING])

    def active_session(self, user_id: str) -> str | None:
        info = self._sessions.active_for(user_id)
        return info.id if info is not None else None

    def resume(self, session_id: str) -> Turn:
        """Continue a session after a restart: finish pending work, then show where we were."""
        info = self._require_active(session_id)
        if info.finish_interrupted:  # the person asked to finish; a crash cut it short
            return self._finish(info)
        messages = self._sessions.messages(session_id)
        for message in messages:
            if message.pending:
                self._extract(message)
        last = self._sessions.messages(session_id)[-1] if messages else None
        if last is not None and last.role == USER:  # stored, never answered: answer it now
            return self._answer(info, last)
        image = self._current_image(info)
        if image is None:
            return self._advance(info, ["Welcome back."])
        log = self._sessions.messages(session_id)
        done = len(policy_progress(log).commented_images)
        text = f"Welcome back — {done} images commented so far. Here is where we stopped: "
        if (info.awaiting_followup and log[-1].kind == "followup") or log[-1].kind == asking.ASK:
            text += f"{image.description}. {log[-1].text}"  # repeat the open question
        else:
            text += image.description
        return self._showing(session_id, text, image, can_finish=self._can_finish(session_id))

    def reply(self, session_id: str, text: str) -> Turn:
        """Handle what the person typed: a comment, an answer to a follow-up, skip, or done."""
        info = self._require_active(session_id)
        command = text.strip().lower() if isinstance(text, str) else ""
        if info.finish_interrupted:  # "done" was said before a crash: finish that first
            finished = self._finish(info)
            if command in DONE_WORDS:
                return finished
            raise SessionFinished(session_id)
        if command in SKIP_WORDS:
            kind, stored = "skip", command
        elif command in DONE_WORDS:
            kind, stored = "done", command
        else:
            stored = clean_comment(text)  # raises InvalidComment: nothing is stored
            asked = self._open_question(self._sessions.messages(session_id))
            if asked is not None:
                item = self._reading(asked.target).items[asked.index]
                assert item is not None
                answer = asking.read_answer(stored, item, self._extractor)
                if answer is not None:
                    message = self._sessions.append(
                        session_id, USER, asking.ANSWER, stored, info.current_image_id
                    )
                    return self._answer_question(info, message, asked, answer)
            kind = "followup" if info.awaiting_followup else "comment"
            parsed = self._parse_correction(session_id, stored)
            if parsed is not None:  # an answer to the read-back, not a comment on the image
                message = self._sessions.append(
                    session_id, USER, "correction", stored, info.current_image_id
                )
                return self._answer_correction(info, message, parsed)
        message = self._sessions.append(session_id, USER, kind, stored, info.current_image_id)
        return self._answer(info, message)

    def correct(
        self,
        session_id: str,
        message_id: int,
        attribute_index: int,
        action: str,
        text: str | None = None,
    ) -> Turn:
        """A click on a chip: flip, drop, edit, like or dislike attribute ``attribute_index``
        (0-based; unsure items follow the attributes) of the person's message ``message_id``.
        Stored beside the message; applied at the finish."""
        info = self._require_active(session_id)
        target = self._correctable(session_id, message_id)
        current = self._reading(target).items
        if action not in corrections.ACTIONS:
            raise InvalidCorrection(f"action must be one of {', '.join(corrections.ACTIONS)}")
        count = len(current)
        if not 0 <= attribute_index < count:
            raise InvalidCorrection(
                f"attribute_index {attribute_index} is out of range: comment {message_id} has "
                f"{count} extracted attribute{'' if count == 1 else 's'}"
                + (f" (0 to {count - 1})" if count else "")
            )
        if current[attribute_index] is None:
            raise InvalidCorrection(f"attribute {attribute_index} was already removed")
        change = corrections.Change(attribute_index, action)
        if action == corrections.EDIT:
            change = self._edit(attribute_index, text)
        asked = self._open_question(self._sessions.messages(session_id))
        self._store_corrections(info, target, [change], words=None, via=corrections.CLICK)
        answers = action != corrections.EDIT and asked is not None
        if answers and asked and (asked.target.id, asked.index) == (target.id, attribute_index):
            # the click answers the open question: move on, as a typed answer does
            answer = asking.NEITHER if action == corrections.DROP else action
            return self._after_answer(info, asked, answer, None)
        return self._read_back(info, target, prefix="Fixed. Noted now")

    def transcript(self, session_id: str) -> list[StoredMessage]:
        if self._sessions.get(session_id) is None:
            raise UnknownSession(session_id)
        return self._sessions.messages(session_id)

    # -- steps ----------------------------------------------------------------------------------

    def _answer(self, info: SessionInfo, message: StoredMessage) -> Turn:
        if message.kind == "skip":
            return self._advance(info, ["Skipped."])
        if message.kind == "done":
            return self._finish(info)
        if message.kind == "correction":
            return self._answer_correction(info, message)
        if message.kind == asking.ANSWER:
            return self._answer_question(info, message)
        extraction = message.extraction or self._extract(message)
        return self._after_comment(info, message, extraction)

    def _extract(self, message: StoredMessage) -> Extraction:
        known = self._gallery.find(message.image_id) if message.image_id else None
        image = self._gallery.context(known.id) if known is not None else None
        try:
            extraction = self._extractor.extract(message.text, image)
        except ExtractionError as error:  # an LLM without a fallback: keep the message, say so
            extraction = Extraction(no_opinion=True, fallback_reason=str(error))
        source = f"image:{message.image_id}" if message.image_id else f"message:{message.id}"
        sourced = [a.model_copy(update={"source": source}) for a in extraction.attributes]
        extraction = extraction.model_copy(update={"attributes": sourced})
        self._sessions.set_extraction(message.id, extraction)
        return extraction

    def _after_comment(
        self, info: SessionInfo, message: StoredMessage, extraction: Extraction
    ) -> Turn:
        parts: list[str] = []
        if extraction.fallback_reason:
            parts.append(FALLBACK_NOTICE)
        if extraction.attributes or not extraction.unsure:
            parts.append(corrections.readback(extraction.attributes))
        image = self._current_image(info)
        asked = message.kind == "followup"
        question = self._question(info, extraction)
        if image is not None and question is not None:
            parts.append(question)
            self._sessions.append(info.id, AGENT, asking.ASK, question, image.id)
            self._sessions.move(info.id, image.id, awaiting_followup=False)
            turn = self._showing(
                info.id, " ".join(parts), image, can_finish=self._can_finish(info.id)
            )
        elif image is not None and policy.needs_followup(extraction, already_asked=asked):
            progress = policy_progress(self._sessions.messages(info.id))
            tag = policy.followup_tag(image, progress.categories)
            question = self._followups.question(image, message.text, tag)
            parts.append(question)
            self._sessions.append(info.id, AGENT, "followup", question, image.id)
            self._sessions.move(info.id, image.id, awaiting_followup=True)
            turn = self._showing(
                info.id, " ".join(parts), image, can_finish=self._can_finish(info.id)
            )
        else:
            turn = self._advance(info, parts)
        offset = len(extraction.attributes)
        return replace(
            turn,
            used_fallback=bool(extraction.fallback_reason),
            learned=tuple(extraction.attributes),
            positions=tuple(range(offset)),
            unsure=tuple((offset + i, u.attribute) for i, u in enumerate(extraction.unsure)),
            learned_from=message.id,
            message_id=message.id,
        )

    def _question(self, info: SessionInfo, extraction: Extraction) -> str | None:
        """The question about the unsure item that matters most, within the session's budget
        of questions per comment (``policy``); None when there is nothing to ask."""
        index = policy.question_for(extraction.unsure)
        if index is None:
            return None
        messages = self._sessions.messages(info.id)
        asked = sum(1 for m in messages if m.role == AGENT and m.kind == asking.ASK)
        comments = sum(1 for m in messages if m.role == USER and m.kind in CORRECTABLE)
        if not policy.may_ask(asked, comments):
            return None
        return extraction.unsure[index].question

    # -- questions ------------------------------------------------------------------------------

    def _open_question(self, messages: Sequence[StoredMessage]) -> OpenQuestion | None:
        return asking.open_question(messages, self._reading)

    def _answer_question(
        self,
        info: SessionInfo,
        message: StoredMessage,
        asked: OpenQuestion | None = None,
        answer: str | None = None,
    ) -> Turn:
        """Store the person's answer as a correction of the asked item, then move on.

        Idempotent: an answer stored before a crash is not applied twice on resume."""
        if asked is None:
            messages = self._sessions.messages(info.id)
            asked = self._open_question(messages[: messages.index(message)])
        if asked is None:  # answered meanwhile (a click in another tab): nothing left to do
            return replace(self._advance(info, ["Thanks."]), message_id=message.id)
        said = self._sessions.corrections(info.id).get(asked.target.id, [])
        if not any(c.said_in == message.id for c in said):
            item = self._reading(asked.target).items[asked.index]
            assert item is not None
            answer = answer or asking.read_answer(message.text, item, self._extractor)
            answer = answer or asking.NEITHER
            action = corrections.DROP if answer == asking.NEITHER else answer
            self._store_corrections(
                info,
                asked.target,
                [corrections.Change(asked.index, action)],
                words=message.text,
                via=corrections.ANSWER,
                said_in=message,
            )
        return self._after_answer(info, asked, answer or asking.NEITHER, message)

    def _after_answer(
        self, info: SessionInfo, asked: OpenQuestion, answer: str, message: StoredMessage | None
    ) -> Turn:
        """Acknowledge the answer and show the next image."""
        reading = self._reading(asked.target)
        asked_about = reading.items[asked.index] or _asked_item(asked)
        turn = self._advance(info, [asking.acknowledge(answer, asked_about)])
        noted = reading.noted()
        return replace(
            turn,
            learned=tuple(a for a in noted if a is not None),
            positions=tuple(i for i, a in enumerate(noted) if a is not None),
            unsure=tuple(reading.unsure()),
            learned_from=asked.target.id,
            message_id=message.id if message else None,
        )

    def _advance(self, info: SessionInfo, parts: list[str]) -> Turn:
        messages = self._sessions.messages(info.id)
        progress = policy_progress(messages)
        image = policy.next_image(self._gallery, progress.seen_images, progress.categories)
        if image is None:
            parts.append("That was the last image.")
            return self._finish(info, prefix=parts)
        number = len(progress.seen_images) + 1
        can_finish = policy.can_finish(progress)
        if can_finish:
            parts.append("You've told me enough for a good profile: type 'done' to finish, "
                         "or keep going.")  # fmt: skip
        show = f"Image {number} of {len(self._gallery)}: {image.description}"
        parts.append(show)
        self._sessions.append(info.id, AGENT, "show", show, image.id)
        self._sessions.move(info.id, image.id, awaiting_followup=False)
        return self._showing(info.id, " ".join(parts), image, can_finish=can_finish)

    def _finish(self, info: SessionInfo, prefix: Sequence[str] = ()) -> Turn:
        messages = self._with_corrections(info.id, self._sessions.messages(info.id))
        progress = policy_progress(messages)
        parts = list(prefix)
        missing = progress.missing()
        if missing:
            parts.append(
                "Finishing early: the profile would be better with " + ", ".join(missing) + ". "
                "You can onboard again any time to add more."
            )
        drafts = [a for m in messages if m.extraction for a in m.extraction.attributes]
        merged, _notes = consolidate(drafts)
        liked, disliked = image_reactions(self._verdicts(messages))
        # One onboarding makes one version: the store writes it once per origin, so a second
        # "done" (another tab, another process) or a retry after a crash gets the same version.
        # The claim is given back if storing fails.
        if not self._sessions.claim_finish(info.id):
            raise SessionFinished(info.id)
        try:
            profile = self._store.record_onboarding(
                info.user_id, merged, liked, disliked, origin=f"onboarding:{info.id}"
            )
        except BaseException:
            self._sessions.release_finish(info.id)
            raise
        self._sessions.finish(info.id, profile.version)
        likes = sum(1 for a in merged if a.polarity is Polarity.LIKE)
        parts.append(
            f"Done! I saved {likes} things you like and {len(merged) - likes} you dislike "
            f"(profile version {profile.version})."
        )
        text = " ".join(parts)
        self._sessions.append(info.id, AGENT, "finish", text, None)
        return Turn(session_id=info.id, text=text, finished=True, profile=profile)

    # -- corrections ----------------------------------------------------------------------------

    def _last_comment(self, session_id: str) -> StoredMessage | None:
        """The comment the latest read-back was about: what a typed correction refers to."""
        for message in reversed(self._sessions.messages(session_id)):
            if message.role == USER and message.kind in CORRECTABLE:
                return message if message.extraction is not None else None
        return None

    def _parse_correction(self, session_id: str, text: str) -> tuple[corrections.Plan, str] | None:
        """What a typed correction asks for, and whether it was a command or words; ``None``
        when the text is an ordinary comment."""
        target = self._last_comment(session_id)
        if target is None:
            return None
        reading = self._reading(target)
        command = corrections.parse_command(text, reading.items, reading.open)
        if command is not None:
            return command, corrections.COMMAND
        words = corrections.parse_words(text, reading.noted(), self._extractor)
        info = self._sessions.get(session_id)
        if isinstance(words, corrections.Question) and info and info.awaiting_followup:
            return None  # "no, it's too busy" answers the follow-up question: not a correction
        return (words, corrections.WORDS) if words is not None else None

    def _answer_correction(
        self,
        info: SessionInfo,
        message: StoredMessage,
        parsed: tuple[corrections.Plan, str] | None = None,
    ) -> Turn:
        """Apply what the person typed to the latest read-back, or ask one short question.

        Idempotent: a correction stored before a crash is not applied twice on resume."""
        target = self._last_comment(info.id)
        said = self._sessions.corrections(info.id)
        done = target is not None and any(c.said_in == message.id for c in said.get(target.id, []))
        if target is not None and not done:
            parsed = parsed or self._parse_correction(info.id, message.text)
            plan, via = parsed if parsed is not None else (None, corrections.WORDS)
            try:
                if isinstance(plan, corrections.Question) or plan is None:
                    raise InvalidCorrection(plan.text if plan else "Which one should I change?")
                changes = [
                    self._edit(c.attribute_index, c.text, c.category) if c.action == "edit" else c
                    for c in plan
                ]
            except InvalidCorrection as unclear:  # one short question back; nothing changes
                question = str(unclear)
                if not question.endswith((".", "?")):
                    question = f"{question[:1].upper()}{question[1:]}. {corrections.HOW_TO_LONG}"
                self._sessions.append(info.id, AGENT, "clarify", question, info.current_image_id)
                return self._still_showing(info, question, message)
            self._store_corrections(
                info,
                target,
                changes,
                words=message.text if via == corrections.WORDS else None,
                via=via,
                said_in=message,
            )
        if target is None:
            return self._still_showing(info, "There is nothing to correct yet.", message)
        turn = self._read_back(info, target, prefix="Fixed. Noted now")
        self._sessions.append(info.id, AGENT, "corrected", turn.text, info.current_image_id)
        return replace(turn, message_id=message.id)

    def _edit(
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

    def _store_corrections(
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

    def _read_back(self, info: SessionInfo, target: StoredMessage, *, prefix: str) -> Turn:
        reading = self._reading(target)
        current = reading.noted()
        text = corrections.readback(current, prefix=prefix)
        positions = tuple(i for i, a in enumerate(current) if a is not None)
        turn = self._still_showing(info, text, None)
        return replace(
            turn,
            learned=tuple(a for a in current if a is not None),
            positions=positions,
            unsure=tuple(reading.unsure()),
            learned_from=target.id,
        )

    def _still_showing(self, info: SessionInfo, text: str, message: StoredMessage | None) -> Turn:
        """A turn that answers without moving on: the same image, the same open question."""
        image = self._current_image(info)
        message_id = message.id if message else None
        if image is None:
            return Turn(session_id=info.id, text=text, message_id=message_id)
        turn = self._showing(info.id, text, image, can_finish=self._can_finish(info.id))
        return replace(turn, message_id=message_id)

    def _reading(self, message: StoredMessage) -> corrections.Reading:
        """The message's attributes and unsure items after its corrections and answers."""
        if message.extraction is None:
            return corrections.Reading((), frozenset(), changed=False)
        stored = self._sessions.corrections(message.session_id).get(message.id, [])
        return corrections.apply(message.extraction, stored, message.text)

    def _correctable(self, session_id: str, message_id: int) -> StoredMessage:
        for message in self._sessions.messages(session_id):
            correctable = message.role == USER and message.kind in CORRECTABLE
            if message.id == message_id and correctable and message.extraction is not None:
                return message
        raise UnknownMessage(session_id, message_id)

    def _with_corrections(
        self, session_id: str, messages: list[StoredMessage]
    ) -> list[StoredMessage]:
        """Messages whose extraction reflects the person's corrections (what the finish
        stores); the stored extraction itself is never changed."""
        stored = self._sessions.corrections(session_id)
        return [_corrected_message(m, stored.get(m.id, [])) for m in messages]

    def corrected_transcript(
        self, session_id: str
    ) -> list[tuple[StoredMessage, list[AttributeDraft | None] | None]]:
        """Each message with its attributes after corrections (``None`` where it has none)."""
        messages = self.transcript(session_id)
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

    # -- helpers --------------------------------------------------------------------------------

    def _showing(
        self, session_id: str, text: str, image: GalleryImage, *, can_finish: bool
    ) -> Turn:
        """A turn that shows ``image`` and waits for the person's comment on it."""
        return Turn(
            session_id=session_id,
            text=text,
            image=image,
            image_path=self._gallery.path(image),
            can_finish=can_finish,
        )

    def _require_active(self, session_id: str) -> SessionInfo:
        info = self._sessions.get(session_id) if isinstance(session_id, str) else None
        if info is None:
            raise UnknownSession(str(session_id))
        if info.status == FINISHED:
            raise SessionFinished(session_id)
        if info.status == FINISHING:
            raise SessionFinishing(session_id)
        return info

    def _current_image(self, info: SessionInfo) -> GalleryImage | None:
        fresh = self._sessions.get(info.id)
        image_id = fresh.current_image_id if fresh else None
        # An image the gallery no longer has (it was replaced since the session started) is
        # treated as "no current image": the session moves on instead of failing for good.
        return self._gallery.find(image_id) if image_id else None

    def _can_finish(self, session_id: str) -> bool:
        return policy.can_finish(policy_progress(self._sessions.messages(session_id)))

    def _verdicts(self, messages: Sequence[StoredMessage]) -> list[ImageVerdict]:
        by_image: dict[str, list[Extraction]] = {}
        for message in messages:
            if message.role == USER and message.extraction and message.image_id:
                by_image.setdefault(message.image_id, []).append(message.extraction)
        verdicts = []
        for image_id, extractions in by_image.items():
            overall = next((e.overall for e in extractions if e.overall is not None), None)
            attributes = tuple(a for e in extractions for a in e.attributes)
            image = self._gallery.find(image_id)
            path = None
            if image is not None:
                path = self._keep_image(self._gallery.path(image))
            verdicts.append(ImageVerdict(image_id, path, overall, attributes))
        return verdicts


def policy_progress(messages: Sequence[StoredMessage]) -> policy.Progress:
    """The conversation's progress, replayed from its stored messages."""
    progress = policy.Progress()
    for message in messages:
        if message.role == AGENT and message.kind == "show" and message.image_id:
            progress.seen_images.add(message.image_id)
        if message.role == USER and message.extraction is not None:
            progress.add(message.image_id, message.extraction)
    return progress


def _asked_item(asked: OpenQuestion) -> AttributeDraft:
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
