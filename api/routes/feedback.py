"""Feedback on a generated image: the comment through the extractor, the image as a reaction.

The image's context for the extractor is the prompt and the attributes the plan applied, so a
vague "love the colours" can be resolved to what was actually in the picture.
"""

from __future__ import annotations

import logging
from pathlib import Path

from agent.corrections import readback
from agent.extraction import Extractor, ImageContext, ImageTag
from api.feedback_inbox import FeedbackInbox
from api.jobs import Job, JobRepository
from api.jobs_generation import image_path
from api.schemas import ExtractedOut, FeedbackIn, FeedbackOut
from preference_store.blobs import BlobStore, FileBlobStore
from preference_store.models import (
    AttributeDraft,
    ImageReaction,
    Polarity,
    Profile,
    normalize_attribute_text,
)
from preference_store.store import PreferenceStore

log = logging.getLogger("tastemaker.api")


def generated_files(blobs: BlobStore, generations_dir: Path) -> Path | None:
    """Where generated PNGs are files that every process reading a profile can open: the
    embedded file store's folder. None in distributed mode, where they are rows of the shared
    database: a path on this API node does not exist on the worker that later reads the liked
    image (aesthetic embedding, PALP, style training), so the reaction keeps no path."""
    return generations_dir if isinstance(blobs, FileBlobStore) else None


def image_file(generations_dir: Path | None, job: Job) -> Path | None:
    return None if generations_dir is None else image_path(generations_dir, job.id, "image", 0)


def _context(job: Job, path: Path | None) -> ImageContext:
    decisions = (job.result or {}).get("plan", {}).get("decisions", [])
    tags = [
        ImageTag(text=d["text"], category=d["category"])
        for d in decisions
        if d.get("used") and d.get("polarity") == "like"
    ]
    return ImageContext(
        image_id=f"generation-{job.id}",
        description=f"an image generated for the prompt: {getattr(job.request, 'prompt', '')}"[
            :2_000
        ],
        tags=tags[:40],
        path=str(path) if path is not None else None,
    )


def apply_pending_feedback(
    store: PreferenceStore,
    extractor: Extractor,
    inbox: FeedbackInbox,
    jobs: JobRepository,
    generations_dir: Path | None,
) -> int:
    """Apply the feedback a restart interrupted; returns how many were applied.

    One row that cannot be applied (its user's profile refuses the change, say) is logged and
    left pending; it never stops the rows of other users queued behind it."""
    applied = 0
    for pending in inbox.pending():
        try:
            job = jobs.get_for(pending.user_id, pending.job_id)
            if job is None:
                continue
            body = FeedbackIn(liked=pending.liked, comment=pending.comment)
            path = image_file(generations_dir, job)
            apply_feedback(store, extractor, inbox, job, body, path, feedback_id=pending.id)
        except Exception:
            log.exception("pending feedback %s could not be applied; kept for later", pending.id)
            continue
        applied += 1
    return applied


def apply_feedback(
    store: PreferenceStore,
    extractor: Extractor,
    inbox: FeedbackInbox,
    job: Job,
    body: FeedbackIn,
    path: Path | None,
    *,
    feedback_id: str | None = None,
) -> FeedbackOut:
    """Store what the feedback says; returns the profile version it produced.

    The feedback is committed to the inbox before the extractor sees the comment (pass the
    ``feedback_id`` of a pending row to finish one that a restart interrupted).
    """
    feedback_id = feedback_id or inbox.record(job.id, job.user_id, body.liked, body.comment)
    notes: list[str] = []
    drafts: list[AttributeDraft] = []
    if body.comment:
        extraction = extractor.extract(body.comment, _context(job, path))
        drafts = [
            a.model_copy(update={"source": f"generation-{job.id}"}) for a in extraction.attributes
        ]
        if extraction.fallback_reason:
            notes.append("the language model failed, so the offline extractor read the comment")
        notes.extend(extraction.notes)
    updated = store.record_feedback(
        job.user_id,
        drafts,
        ImageReaction(
            image_id=f"generation-{job.id}",
            weight=1.0,
            path=str(path) if path is not None else None,
        ),
        Polarity.LIKE if body.liked else Polarity.DISLIKE,
        reason=f"feedback on {job.id}",
    )
    inbox.mark_applied(feedback_id, updated.version)
    return FeedbackOut(
        profile_version=updated.version,
        extracted=_read_back(drafts, updated),
        readback=readback(drafts) if body.comment else None,
        note="; ".join(notes) or None,
    )


def _read_back(drafts: list[AttributeDraft], profile: Profile) -> list[ExtractedOut]:
    """What was learned, each with the id of the stored attribute it became, so the person can
    correct it at once (PATCH or DELETE /v1/preferences/{id}): feedback is applied directly."""
    stored = {normalize_attribute_text(a.text): a.id for a in profile.attributes}
    return [
        ExtractedOut(
            text=a.text,
            category=a.category,
            polarity=a.polarity,
            strength=a.strength,
            index=index,
            id=stored.get(normalize_attribute_text(a.text)),
        )
        for index, a in enumerate(drafts)
    ]
