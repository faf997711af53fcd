"""Taste from choices over HTTP (issue 22; design.md, "Taste from choices"): "which of these two
do you prefer?" within an onboarding session, and what the taste model thinks of the gallery.

A pair is shown once: asking again for a pair before answering gives the same one; answering
gives the next. Another user's session is a 404 (as every onboarding route); a pair not shown
in this session, or an answer that is not left/right/neither/skip, is a 422; a second answer
to one pair is a 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from agent.pick_why import WHY_QUESTION
from api.deps import (
    CurrentOwner,
    ExtractorDep,
    OnboardingDep,
    SlowLaneDep,
    StoreDep,
    TasteDep,
    in_lane,
)
from api.routes.gallery import image_url
from api.schemas import (
    AttributeOut,
    ChoiceIn,
    ImageRef,
    PairOut,
    Problem,
    RankedImageOut,
    TasteOut,
    WhyAsk,
    WhyIn,
    WhyOut,
)
from api.taste import TasteService, noted
from preference_store.choices import Choice

router = APIRouter(
    tags=["taste"],
    responses={401: {"model": Problem}, 404: {"model": Problem}, 422: {"model": Problem}},
)
SessionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _pair(taste: TasteService, choice: Choice | None) -> PairOut | None:
    if choice is None or choice.right is None:
        return None
    left, right = taste.gallery.get(choice.left), taste.gallery.get(choice.right)
    return PairOut(
        pair_id=choice.id,
        left=ImageRef(id=left.id, description=left.description, url=image_url(left.id)),
        right=ImageRef(id=right.id, description=right.description, url=image_url(right.id)),
    )


@router.get("/v1/onboarding/{session_id}/pair")
def get_pair(
    owner: CurrentOwner, onboarding: OnboardingDep, taste: TasteDep, session_id: SessionId
) -> PairOut | None:
    """The two images to choose between (the same pair until it is answered); null when
    every pair of the gallery has been shown."""
    onboarding.require_own(owner, session_id)
    return _pair(taste, taste.next_pair(owner, session_id))


@router.post("/v1/onboarding/{session_id}/choices", responses={409: {"model": Problem}})
def post_choice(
    owner: CurrentOwner,
    onboarding: OnboardingDep,
    taste: TasteDep,
    session_id: SessionId,
    body: ChoiceIn,
) -> PairOut | None:
    """Answer a pair (`left`, `right`, `neither` or `skip`); the taste model retrains at once.
    Gives the next pair, or null when the gallery is exhausted."""
    onboarding.require_own(owner, session_id)
    following = _pair(taste, taste.answer(owner, session_id, body.pair_id, body.choice))
    picked = taste.asks_why(owner, body.pair_id)  # a surprising pick, now and then
    if following is not None and picked is not None:
        why = WhyAsk(pair_id=body.pair_id, image_id=picked, question=WHY_QUESTION)
        following = following.model_copy(update={"why": why})
    return following


@router.post(
    "/v1/onboarding/{session_id}/choices/{pair_id}/why", responses={409: {"model": Problem}}
)
async def post_why(
    owner: CurrentOwner,
    onboarding: OnboardingDep,
    taste: TasteDep,
    store: StoreDep,
    extractor: ExtractorDep,
    lane: SlowLaneDep,
    session_id: SessionId,
    pair_id: SessionId,
    body: WhyIn,
) -> WhyOut:
    """The answer to "what made you pick that one?" (asked in a choice's `why`): read like a
    comment on the picked image and stored as a new profile version. 422 for a pair the
    question did not follow, 409 for a second answer."""

    def explain() -> WhyOut:
        onboarding.require_own(owner, session_id)
        learned = taste.explain(
            owner,
            session_id,
            pair_id,
            body.text,
            extractor,
            lambda who, drafts: store.add(who, drafts, reason="why I picked"),
        )
        return WhyOut(learned=[AttributeOut.of(a) for a in learned], message=noted(learned))

    return await in_lane(lane, explain)


@router.get("/v1/preferences/taste")
def get_taste(owner: CurrentOwner, taste: TasteDep) -> TasteOut:
    """What the taste model thinks you like: the gallery best first, with each image's taste
    match (0-1; 0.5: no opinion), how many choices it learned from, and how often your
    answers agreed with what it predicted."""
    agreement, compared = taste.agreement(owner)
    return TasteOut(
        choices=taste.counted(owner),
        ranking=[
            RankedImageOut(
                image_id=r.image.id,
                description=r.image.description,
                url=image_url(r.image.id),
                taste_match=r.taste_match,
            )
            for r in taste.ranking(owner)
        ],
        agreement=agreement,
        agreement_of=compared,
    )
