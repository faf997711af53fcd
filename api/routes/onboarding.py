"""Onboarding over HTTP: the agent's chat, one session per id, owned by the token's user.

The agent persists every message before extracting, so a restart or an LLM failure loses
nothing; ``/resume`` answers a message that was stored but never answered. Replies to one
session are serialized, so two tabs cannot interleave a session's turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path, status

from agent.extraction import question_about
from agent.onboarding import Turn
from api.deps import CurrentOwner, OnboardingDep, SettingsDep, SlowLaneDep, in_lane
from api.errors import Unprocessable
from api.routes.gallery import image_url
from api.schemas import (
    CorrectionIn,
    ExtractedOut,
    ImageRef,
    OnboardingFinished,
    OnboardingMessageIn,
    OnboardingStarted,
    OnboardingTurnOut,
    Problem,
    TranscriptMessage,
    TranscriptOut,
    UnsureOut,
)
from preference_store.models import AttributeDraft
from preference_store.text import MAX_SQL_INTEGER

router = APIRouter(
    prefix="/v1/onboarding",
    tags=["onboarding"],
    responses={
        401: {"model": Problem},
        404: {"model": Problem},
        422: {"model": Problem},
        429: {"model": Problem},
    },
)
SessionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _image(turn: Turn) -> ImageRef | None:
    if turn.image is None:
        return None
    return ImageRef(
        id=turn.image.id, description=turn.image.description, url=image_url(turn.image.id)
    )


def _extracted(attribute: AttributeDraft, index: int | None) -> ExtractedOut:
    return ExtractedOut(
        text=attribute.text,
        category=attribute.category,
        polarity=attribute.polarity,
        strength=attribute.strength,
        index=index,
    )


def _listed(attributes: Sequence[AttributeDraft | None] | None) -> list[ExtractedOut] | None:
    if attributes is None:
        return None
    return [_extracted(a, i) for i, a in enumerate(attributes) if a is not None]


def _turn_out(turn: Turn) -> OnboardingTurnOut:
    positions = turn.positions or tuple(range(len(turn.learned)))
    return OnboardingTurnOut(
        reply=turn.text,
        image=_image(turn),
        extracted=[_extracted(a, i) for a, i in zip(turn.learned, positions, strict=True)],
        unsure=[
            UnsureOut(index=i, text=a.text, category=a.category, question=question_about(a.text))
            for i, a in turn.unsure
        ],
        can_finish=turn.can_finish,
        done=turn.finished,
        message_id=turn.message_id,
        extracted_from=turn.learned_from,
    )


# What a client does next with a new session, as OpenAPI links (stateful tests follow them).
_NEXT = {
    name: {
        "operationId": f"{name}_v1_onboarding__session_id_{path}",
        "parameters": {"session_id": "$response.body#/id"},
    }
    for name, path in (
        ("send_message", "_messages_post"),
        ("resume_onboarding", "_resume_post"),
        ("finish_onboarding", "_finish_post"),
        ("get_transcript", "_get"),
    )
}


@router.post("", status_code=status.HTTP_201_CREATED, responses={201: {"links": _NEXT}})
def start_onboarding(owner: CurrentOwner, onboarding: OnboardingDep) -> OnboardingStarted:
    """Start a session: the agent's greeting and the first image to comment on."""
    turn = onboarding.agent.start(owner)
    return OnboardingStarted(id=turn.session_id, message=turn.text, image=_image(turn))


@router.post("/{session_id}/messages", responses={409: {"model": Problem}})
async def send_message(
    owner: CurrentOwner,
    settings: SettingsDep,
    onboarding: OnboardingDep,
    lane: SlowLaneDep,
    session_id: SessionId,
    body: OnboardingMessageIn,
) -> OnboardingTurnOut:
    """A comment on the current image (or `skip`, or `done`): what was learned, the reply, and
    the next image. The comment is stored before anything reads it."""
    if len(body.text) > settings.max_comment_chars:
        raise Unprocessable(
            f"the comment has {len(body.text)} characters; keep it under "
            f"{settings.max_comment_chars} (a few sentences about this image are plenty)"
        )

    def reply() -> OnboardingTurnOut:
        onboarding.require_own(owner, session_id)
        with onboarding.lock(session_id):
            return _turn_out(onboarding.agent.reply(session_id, body.text))

    return await in_lane(lane, reply)


@router.post("/{session_id}/messages/{message_id}/corrections", responses={409: {"model": Problem}})
async def correct_message(
    owner: CurrentOwner,
    onboarding: OnboardingDep,
    lane: SlowLaneDep,
    session_id: SessionId,
    message_id: Annotated[int, Path(ge=1, le=MAX_SQL_INTEGER)],
    body: CorrectionIn,
) -> OnboardingTurnOut:
    """Correct what was understood from one of your comments: flip an attribute's polarity, set
    it (`like`, `dislike`: also the answer to a question about an unsure feature), drop it
    (for an unsure feature: neither), or edit its text. Stored beside the comment (the
    extractor's answer stays in the transcript) and applied when the onboarding finishes; the
    reply reads the comment back (or, for the question just asked, moves on).
    (An edit asks the extractor for the new phrase's category, hence the slow lane.)"""

    def correct() -> OnboardingTurnOut:
        onboarding.require_own(owner, session_id)
        with onboarding.lock(session_id):
            turn = onboarding.agent.correct(
                session_id, message_id, body.attribute_index, body.action, body.text
            )
        return _turn_out(turn)

    return await in_lane(lane, correct)


@router.post("/{session_id}/resume", responses={409: {"model": Problem}})
async def resume_onboarding(
    owner: CurrentOwner, onboarding: OnboardingDep, lane: SlowLaneDep, session_id: SessionId
) -> OnboardingTurnOut:
    """Continue after a break or a restart: answers a stored but unanswered message, then
    shows the image where the session stopped."""

    def resume() -> OnboardingTurnOut:
        onboarding.require_own(owner, session_id)
        with onboarding.lock(session_id):
            return _turn_out(onboarding.agent.resume(session_id))

    return await in_lane(lane, resume)


@router.post("/{session_id}/finish", responses={409: {"model": Problem}})
def finish_onboarding(
    owner: CurrentOwner, onboarding: OnboardingDep, session_id: SessionId
) -> OnboardingFinished:
    """Finish now: consolidate what was learned and store it as a new profile version."""
    onboarding.require_own(owner, session_id)
    with onboarding.lock(session_id):
        turn = onboarding.agent.reply(session_id, "done")
    profile = turn.profile
    return OnboardingFinished(
        message=turn.text,
        profile_version=profile.version if profile else 0,
        attribute_count=len(profile.attributes) if profile else 0,
    )


@router.get("/{session_id}")
def get_transcript(
    owner: CurrentOwner, onboarding: OnboardingDep, session_id: SessionId
) -> TranscriptOut:
    """The whole conversation so far, and the image being discussed."""
    onboarding.require_own(owner, session_id)
    info = onboarding.sessions.get(session_id)
    assert info is not None
    image = None
    if info.current_image_id:
        gallery_image = onboarding.gallery.get(info.current_image_id)
        image = ImageRef(
            id=gallery_image.id,
            description=gallery_image.description,
            url=image_url(gallery_image.id),
        )
    return TranscriptOut(
        id=session_id,
        status=info.status,
        image=image,
        messages=[
            TranscriptMessage(
                id=m.id,
                role=m.role,
                kind=m.kind,
                text=m.text,
                image_id=m.image_id,
                extracted=_listed(m.extraction.attributes) if m.extraction else None,
                corrected=_listed(corrected),
            )
            for m, corrected in onboarding.agent.corrected_transcript(session_id)
        ],
    )
