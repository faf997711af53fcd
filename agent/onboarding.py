"""The onboarding agent: shows images, reads comments, asks follow-ups, finishes the profile.

Every turn follows the same order: validate the input, commit the person's message, extract,
write the extraction onto that message, decide the reply by ``agent.policy``, commit the reply.
All state lives in the database (``agent.sessions``), so a new agent over the same database
continues any session, including a message that was stored but never answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from agent import asking, corrections, policy, turn
from agent.asking import OpenQuestion
from agent.consolidate import consolidate, image_reactions, image_verdicts
from agent.correcting import Corrector, asked_item
from agent.extraction import Extraction, ExtractionError, Extractor, clean_comment
from agent.fallback import FALLBACK_NOTICE
from agent.followup import FollowupWriter, TemplateFollowups
from agent.gallery import Gallery, GalleryImage
from agent.onboarding_errors import (
    InvalidCorrection,
    OnboardingError,
    SessionFinished,
    SessionFinishing,
    UnknownMessage,
    UnknownSession,
)
from agent.sessions import (
    AGENT,
    FINISHED,
    FINISHING,
    USER,
    SessionInfo,
    SessionRepository,
    StoredMessage,
)
from agent.turn import ChosenImages, ImageKeeper, ProfileWriter, Turn, local_file
from agent.turn_reads import TurnReads, one_turn
from preference_store.merging import chosen_differs
from preference_store.models import AttributeDraft, ImageReaction

SKIP_WORDS = {"skip", "/skip", "next", "pass"}
DONE_WORDS = {"done", "/done", "finish", "/finish"}
GREETING = (
    "Hi! I'll show you some images. For each one, tell me in your own words what you like and "
    "what you dislike about how it looks: colours, light, composition, style, texture, mood. "
    "Type 'skip' to skip an image and 'done' to finish. I'll read back what I noted, numbered; "
    "if I got one wrong, say so (\"no, I liked the fog\") or type e.g. 'fix 2 like' or 'drop 1'. "
    "When I can't tell whether you liked something, I'll ask: answer like, dislike or neither."
)
# What callers use, named where the agent is (declared in ``onboarding_errors`` and ``turn``).
__all__ = ["ImageKeeper", "InvalidCorrection", "OnboardingAgent", "OnboardingError",
           "SessionFinished", "SessionFinishing", "Turn", "UnknownMessage",
           "UnknownSession"]  # fmt: skip


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
        chosen_images: ChosenImages | None = None,
    ) -> None:
        self._sessions = TurnReads(sessions)  # a turn reads the session's rows once
        self._store = store
        self._extractor = extractor
        self._gallery = gallery
        self._followups = followups or TemplateFollowups()
        self._keep_image = keep_image or local_file
        self._chosen_images = chosen_images
        self._corrector = Corrector(self._sessions, extractor)

    # -- public ---------------------------------------------------------------------------------

    @one_turn
    def start(self, user_id: str) -> Turn:
        """A new session for ``user_id``: the greeting and the first image."""
        info = self._sessions.create(user_id, self._gallery.name)
        self._sessions.append(info.id, AGENT, "say", GREETING, None)
        return self._advance(info, [GREETING])

    @one_turn
    def active_session(self, user_id: str) -> str | None:
        info = self._sessions.active_for(user_id)
        return info.id if info is not None else None

    @one_turn
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
        done = len(policy.progress_of(log).commented_images)
        text = f"Welcome back — {done} images commented so far. Here is where we stopped: "
        if (info.awaiting_followup and log[-1].kind == "followup") or log[-1].kind == policy.ASK:
            text += f"{image.description}. {log[-1].text}"  # repeat the open question
        else:
            text += image.description
        return self._showing(session_id, text, image, can_finish=self._can_finish(session_id))

    @one_turn
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
            asked = self._corrector.open_question(self._sessions.messages(session_id))
            if asked is not None:
                answer = self._corrector.read_answer(stored, asked)
                if answer is not None:
                    message = self._sessions.append(
                        session_id, USER, asking.ANSWER, stored, info.current_image_id
                    )
                    return self._answer_question(info, message, asked, answer)
            kind = "followup" if info.awaiting_followup else "comment"
            parsed = self._corrector.parse(info, stored)
            if parsed is not None:  # an answer to the read-back, not a comment on the image
                message = self._sessions.append(
                    session_id, USER, "correction", stored, info.current_image_id
                )
                return self._answer_correction(info, message, parsed)
        message = self._sessions.append(session_id, USER, kind, stored, info.current_image_id)
        return self._answer(info, message)

    @one_turn
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
        target = self._corrector.correctable(session_id, message_id)
        asked = self._corrector.open_question(self._sessions.messages(session_id))
        if self._corrector.take_click(info, target, attribute_index, action, text, asked):
            # the click answers the open question: move on, as a typed answer does
            assert asked is not None
            answer = asking.NEITHER if action == corrections.DROP else action
            return self._after_answer(info, asked, answer, None)
        return self._read_back(info, target, prefix="Fixed. Noted now")

    @one_turn
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
        unsure = [  # an answered one is stored like the others, with where it came from
            u.model_copy(update={"attribute": u.attribute.model_copy(update={"source": source})})
            for u in extraction.unsure
        ]
        extraction = extraction.model_copy(update={"attributes": sourced, "unsure": unsure})
        self._sessions.set_extraction(message, extraction)
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
        question = policy.question_of(extraction, self._sessions.messages(info.id))
        if image is not None and question is not None:
            turn = self._ask(info, parts, question, image)
        elif image is not None and policy.needs_followup(extraction, already_asked=asked):
            progress = policy.progress_of(self._sessions.messages(info.id))
            tag = policy.followup_tag(image, progress.categories)
            question = self._followups.question(image, message.text, tag)
            turn = self._ask(info, parts, question, image, kind="followup")
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

    # -- questions ------------------------------------------------------------------------------

    def _answer_question(
        self,
        info: SessionInfo,
        message: StoredMessage,
        asked: OpenQuestion | None = None,
        answer: str | None = None,
    ) -> Turn:
        """Store the person's answer as a correction of the asked item, then move on."""
        if asked is None:  # on resume: the question open when the answer was stored
            messages = self._sessions.messages(info.id)
            asked = self._corrector.open_question(messages[: messages.index(message)])
        if asked is None:  # answered meanwhile (a click in another tab): nothing left to do
            return replace(self._advance(info, ["Thanks."]), message_id=message.id)
        answer = self._corrector.take_answer(info, message, asked, answer)
        return self._after_answer(info, asked, answer, message)

    def _after_answer(
        self, info: SessionInfo, asked: OpenQuestion, answer: str, message: StoredMessage | None
    ) -> Turn:
        """Acknowledge the answer, then ask about the comment's next unsure item while the
        budget allows (``policy.question_of``), else show the next image."""
        reading = self._corrector.reading(asked.target)
        asked_about = reading.items[asked.index] or asked_item(asked)
        parts = [asking.acknowledge(answer, asked_about)]
        image, comment = self._current_image(info), asked.target.extraction
        messages = self._sessions.messages(info.id)
        question = policy.question_of(comment, messages, reading.open) if comment else None
        if image is not None and question is not None:
            turn = self._ask(info, parts, question, image)
        else:
            turn = self._advance(info, parts)
        noted = reading.noted()
        return replace(
            turn,
            learned=tuple(a for a in noted if a is not None),
            positions=tuple(i for i, a in enumerate(noted) if a is not None),
            unsure=tuple(reading.unsure()),
            learned_from=asked.target.id,
            message_id=message.id if message else None,
        )

    def _ask(
        self, info: SessionInfo, parts: list[str], question: str, image: GalleryImage, *,
        kind: str = policy.ASK,
    ) -> Turn:  # fmt: skip
        """Ask ``question`` (about an unsure item, or a follow-up) and wait on ``image``."""
        self._sessions.append(info.id, AGENT, kind, question, image.id)
        self._sessions.move(info.id, image.id, awaiting_followup=kind == "followup")
        text = " ".join([*parts, question])
        return self._showing(info.id, text, image, can_finish=self._can_finish(info.id))

    def _advance(self, info: SessionInfo, parts: list[str]) -> Turn:
        messages = self._sessions.messages(info.id)
        progress = policy.progress_of(messages)
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
        messages = self._corrector.corrected_messages(info.id, self._sessions.messages(info.id))
        progress = policy.progress_of(messages)
        parts = list(prefix)
        if progress.missing():
            parts.append(turn.early_finish(progress.missing()))
        drafts = [a for m in messages if m.extraction for a in m.extraction.attributes]
        merged, _notes = consolidate(drafts)
        liked, disliked = image_reactions(image_verdicts(messages, self._image_path))
        # One onboarding makes one version: the store writes it once per origin, so a second
        # "done" (another tab, another process) or a retry after a crash gets the same version.
        # The claim is given back if storing fails.
        if not self._sessions.claim_finish(info.id):
            raise SessionFinished(info.id)
        chosen = self._chosen(info.user_id)
        learned = bool(merged or liked or disliked or chosen)  # nothing learned: no new version
        origin = f"onboarding:{info.id}"
        try:
            if learned:
                profile = self._store.record_onboarding(
                    info.user_id, merged, liked, disliked, origin=origin, chosen=chosen
                )
            else:
                profile = self._store.profile(info.user_id)
        except BaseException:
            self._sessions.release_finish(info.id)
            raise
        self._sessions.finish(info.id, profile.version)
        text = " ".join([*parts, turn.saved(merged, profile.version, learned=learned)])
        self._sessions.append(info.id, AGENT, "finish", text, None)
        return Turn(session_id=info.id, text=text, finished=True, profile=profile)

    # -- corrections (stored by ``agent.correcting``) -------------------------------------------

    def _answer_correction(
        self,
        info: SessionInfo,
        message: StoredMessage,
        parsed: tuple[corrections.Plan, str] | None = None,
    ) -> Turn:
        """Apply what the person typed to the latest read-back, or ask one short question."""
        target = self._corrector.last_comment(info.id)
        if target is None:
            return self._still_showing(info, "There is nothing to correct yet.", message)
        try:
            self._corrector.take_typed(info, message, target, parsed)
        except InvalidCorrection as unclear:  # one short question back; nothing changes
            question = str(unclear)
            if not question.endswith((".", "?")):
                question = f"{question[:1].upper()}{question[1:]}. {corrections.HOW_TO_LONG}"
            self._sessions.append(info.id, AGENT, "clarify", question, info.current_image_id)
            return self._still_showing(info, question, message)
        turn = self._read_back(info, target, prefix="Fixed. Noted now")
        self._sessions.append(info.id, AGENT, "corrected", turn.text, info.current_image_id)
        return replace(turn, message_id=message.id)

    def _read_back(self, info: SessionInfo, target: StoredMessage, *, prefix: str) -> Turn:
        reading = self._corrector.reading(target)
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

    @one_turn
    def corrected_transcript(
        self, session_id: str
    ) -> list[tuple[StoredMessage, list[AttributeDraft | None] | None]]:
        """Each message with its attributes after corrections (``None`` where it has none)."""
        return self._corrector.transcript(session_id, self.transcript(session_id))

    # -- helpers --------------------------------------------------------------------------------

    def _still_showing(self, info: SessionInfo, text: str, message: StoredMessage | None) -> Turn:
        """A turn that answers without moving on: the same image, the same open question."""
        image = self._current_image(info)
        message_id = message.id if message else None
        if image is None:
            return Turn(session_id=info.id, text=text, message_id=message_id)
        turn = self._showing(info.id, text, image, can_finish=self._can_finish(info.id))
        return replace(turn, message_id=message_id)

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

    def _chosen(self, user_id: str) -> list[ImageReaction] | None:
        """The picks when they change the profile's chosen images (None: keep those)."""
        if self._chosen_images is None:
            return None
        chosen = list(self._chosen_images(user_id))
        return chosen if chosen_differs(self._store.profile(user_id), chosen, None) else None

    def _image_path(self, image_id: str) -> str | None:
        """Where every process that later reads a liked gallery image finds it."""
        image = self._gallery.find(image_id)
        return self._keep_image(self._gallery.path(image)) if image is not None else None

    def _can_finish(self, session_id: str) -> bool:
        return policy.can_finish(policy.progress_of(self._sessions.messages(session_id)))
