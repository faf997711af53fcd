"""Feedback on a generated image: the comment through the extractor, the image as a reaction.

The service behind ``POST /v1/generations/{id}/feedback`` (``api/routes/feedback.py``) and the
start-up pass that finishes feedback a restart interrupted. The image's context for the
extractor is the prompt and the attributes the plan applied, so a vague "love the colours" can
be resolved to what was actually in the picture.

The image is in the blob store (``image_key``), which in distributed mode is the database: the
reaction names it by blob key (``blob:generations/<job>/image-0.png``), never by a path on this
node's disk, so whichever worker later learns from it reads it from there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from agent.corrections import readback
from agent.extraction import Extractor, ImageContext, ImageTag
from generation.reaction_images import blob_reference
from jobs.feedback_inbox import FeedbackInbox
from jobs.generation import image_key
from jobs.repository import Job, JobRepository
from preference_store.blobs import BlobStore, FileBlobStore
from preference_store.models import AttributeDraft, ImageReaction, Polarity, Profile
from preference_store.store import PreferenceStore
from preference_store.text import Paragraph

log = logging.getLogger("tastemaker.api")


class Feedback(BaseModel):
    """Whether the person liked the image, and optionally why (the HTTP body extends it)."""

    model_config = ConfigDict(extra="forbid")

    liked: bool = Field(strict=True)
    comment: Paragraph | None = Field(default=None, min_length=1)


@dataclass(frozen=True)
class FeedbackApplied:
    """What applying feedback stored: the new profile and the attributes read from the comment."""

    profile: Profile
    drafts: list[AttributeDraft]
    readback: str | None
    notes: list[str]


def _local_file(blobs: BlobStore, key: str) -> str | None:
    """The image as a file on this machine, for vision models: only a file blob store has one."""
    if isinstance(blobs, FileBlobStore):
        path = blobs.path(key)
        return str(path) if path.is_file() else None
    return None


def _context(job: Job, file: str | None) -> ImageContext:
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
        path=file,
    )


def apply_pending_feedback(
    store: PreferenceStore,
    extractor: Extractor,
    inbox: FeedbackInbox,
    jobs: JobRepository,
    blobs: BlobStore,
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
            body = Feedback(liked=pending.liked, comment=pending.comment)
            apply_feedback(store, extractor, inbox, job, body, blobs, feedback_id=pending.id)
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
    body: Feedback,
    blobs: BlobStore,
    *,
    feedback_id: str | None = None,
) -> FeedbackApplied:
    """Store what the feedback says; returns the new profile and what the comment said.

    The feedback is committed to the inbox before the extractor sees the comment (pass the
    ``feedback_id`` of a pending row to finish one that a restart interrupted).
    """
    feedback_id = feedback_id or inbox.record(job.id, job.user_id, body.liked, body.comment)
    key = image_key(job.id, "image", 0)
    notes: list[str] = []
    drafts: list[AttributeDraft] = []
    if body.comment:
        extraction = extractor.extract(body.comment, _context(job, _local_file(blobs, key)))
        drafts = [
            a.model_copy(update={"source": f"generation-{job.id}"}) for a in extraction.attributes
        ]
        if extraction.fallback_reason:
            notes.append("the language model failed, so the offline extractor read the comment")
        notes.extend(extraction.notes)
    updated = store.record_feedback(
        job.owner,
        drafts,
        ImageReaction(image_id=f"generation-{job.id}", weight=1.0, path=blob_reference(key)),
        Polarity.LIKE if body.liked else Polarity.DISLIKE,
        reason=f"feedback on {job.id}",
    )
    inbox.mark_applied(feedback_id, updated.version)
    return FeedbackApplied(
        profile=updated,
        drafts=drafts,
        readback=readback(drafts) if body.comment else None,
        notes=notes,
    )
