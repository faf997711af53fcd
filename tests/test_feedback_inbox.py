"""Feedback on a generation is committed before the extractor reads it, and survives a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.offline import OfflineExtractor
from api.settings import Settings
from api.wiring.jobs import job_kinds
from api.wiring.services import Components
from generation.request import GenerationRequest
from jobs.feedback import Feedback, apply_feedback, apply_pending_feedback
from jobs.feedback_inbox import FeedbackInbox
from jobs.repository import JobRepository
from preference_store.embeddings import SentenceTransformerEmbedder


class CrashingExtractor:
    """Stands for a process that dies while the model reads the comment."""

    def extract(self, comment: str, image: object) -> object:
        raise RuntimeError("the process died here")


def test_feedback_survives_a_crash_during_extraction_and_is_applied_on_restart(
    tmp_path: Path, warm_cache: Path, embedder: SentenceTransformerEmbedder
) -> None:
    components = Components(Settings(data_dir=tmp_path / "data", cache_dir=warm_cache))
    import api.app  # noqa: F401  (registers the service's tables before the schema is made)

    store = components.store
    jobs = JobRepository(components.engine, job_kinds())
    inbox = FeedbackInbox(components.engine)
    job = jobs.create("alice", "generation", GenerationRequest(prompt="a lighthouse at dusk"))
    [running] = jobs.claim("worker", ["generation"])
    jobs.mark_done(running, {"images": 1})
    done = jobs.get(job.id)
    assert done is not None
    body = Feedback(liked=True, comment="love the warm golden light")

    with pytest.raises(RuntimeError):
        apply_feedback(store, CrashingExtractor(), inbox, done, body, components.blobs)  # type: ignore[arg-type]
    assert [p.comment for p in inbox.pending()] == ["love the warm golden light"]
    assert store.versions("alice") == []

    extractor = OfflineExtractor(embedder)
    assert apply_pending_feedback(store, extractor, inbox, jobs, components.blobs) == 1
    assert inbox.pending() == []
    profile = store.profile("alice")
    assert "warm golden light" in {a.text for a in profile.liked()}
    assert [r.image_id for r in profile.liked_images] == [f"generation-{job.id}"]
