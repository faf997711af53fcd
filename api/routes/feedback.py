"""Feedback on a generated image over HTTP; the work is in ``jobs/feedback.py``."""

from __future__ import annotations

import io
import logging

from fastapi import APIRouter, Request
from PIL import Image

from api.deps import (
    BlobsDep,
    CurrentUser,
    JobsDep,
    SettingsDep,
    SlowLaneDep,
    StoreDep,
    TasteDep,
    in_lane,
)
from api.errors import Conflict, Unavailable, Unprocessable
from api.routes.generations import NOT_FOUND, JobId, own_job
from api.schemas import ExtractedOut, FeedbackIn, FeedbackOut, Problem
from api.taste import TasteService
from jobs.feedback import FeedbackApplied, apply_feedback
from jobs.feedback_inbox import FeedbackInbox
from jobs.generation import image_key
from jobs.repository import DONE, Job
from preference_store.blobs import BlobStore
from preference_store.models import normalize_attribute_text

log = logging.getLogger("tastemaker.api")

router = APIRouter(
    prefix="/v1/generations",
    tags=["generations"],
    responses={401: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
)


@router.post("/{job_id}/feedback", responses={**NOT_FOUND, 409: {"model": Problem}})
async def generation_feedback(
    request: Request,
    user: CurrentUser,
    settings: SettingsDep,
    runner: JobsDep,
    store: StoreDep,
    blobs: BlobsDep,
    taste: TasteDep,
    lane: SlowLaneDep,
    job_id: JobId,
    body: FeedbackIn,
) -> FeedbackOut:
    """Say whether you liked the image, optionally why: the comment goes through the extractor
    and, with the image itself, updates your profile as a new version. The like or dislike is
    also a choice for your taste model, scored against what it predicted (the running
    agreement of `GET /v1/preferences/taste`)."""
    if body.comment is not None and len(body.comment) > settings.max_comment_chars:
        raise Unprocessable(
            f"the comment has {len(body.comment)} characters; keep it under "
            f"{settings.max_comment_chars}"
        )
    extractor = getattr(request.app.state, "extractor", None)
    if extractor is None:
        raise Unavailable("the extractor is not loaded yet")

    def apply() -> FeedbackOut:
        job = own_job(runner, user, job_id)
        if job.status != DONE:
            raise Conflict(f"generation {job_id!r} is {job.status}; give feedback once it is done")
        inbox: FeedbackInbox = request.app.state.feedback_inbox
        answer = _answer(apply_feedback(store, extractor, inbox, job, body, blobs))
        _as_choice(taste, blobs, job, body.liked)
        return answer

    return await in_lane(lane, apply)


def _as_choice(taste: TasteService, blobs: BlobStore, job: Job, liked: bool) -> None:
    """The reaction as a choice of the generated image against an average gallery image
    (design.md, "Taste from choices"); the latest reaction to an image counts. The profile
    change above stands even when this cannot be done (no image kept, CLIP failing): logged."""
    image_id = f"generation-{job.id}"
    data = blobs.get(image_key(job.id, "image", 0))
    if data is None:
        return
    try:
        with Image.open(io.BytesIO(data)) as image:
            picture = image.convert("RGB")
        taste.react(job.owner, image_id, picture, getattr(job.request, "prompt", None), liked)
    except Exception:
        log.exception("feedback on %s was not counted as a choice", job.id)


def _answer(applied: FeedbackApplied) -> FeedbackOut:
    """What was learned, each with the id of the stored attribute it became, so the person can
    correct it at once (PATCH or DELETE /v1/preferences/{id}): feedback is applied directly."""
    stored = {normalize_attribute_text(a.text): a.id for a in applied.profile.attributes}
    return FeedbackOut(
        profile_version=applied.profile.version,
        extracted=[
            ExtractedOut(
                text=a.text,
                category=a.category,
                polarity=a.polarity,
                strength=a.strength,
                index=index,
                id=stored.get(normalize_attribute_text(a.text)),
            )
            for index, a in enumerate(applied.drafts)
        ],
        readback=applied.readback,
        note="; ".join(applied.notes) or None,
    )
