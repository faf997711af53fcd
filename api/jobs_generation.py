"""What one generation job does in the worker thread: profile in, PNGs and provenance out.

The aesthetic embedding depends on the generator's CLIP model, so it is computed here, where
that model lives, the first time a profile version is used, and cached in the store.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from api.generation_wiring import ensure_aesthetic_embedding
from api.jobs import Job
from api.jobs_runner import StepReporter
from generation.errors import AestheticEmbeddingError
from generation.generator import GenerationResult, PersonalizedGenerator
from generation.png import png_bytes
from generation.settings import GenerationSettings
from preference_store.blobs import BlobStore
from preference_store.models import Profile
from preference_store.store import PreferenceStore

log = logging.getLogger("tastemaker.jobs")
GENERATIONS_PREFIX = "generations/"


def image_key(job_id: str, variant: str, index: int) -> str:
    """The blob key of a generated image; under a file store it is ``image_path``'s file."""
    return f"{GENERATIONS_PREFIX}{job_id}/{variant}-{index}.png"


def image_path(root: Path, job_id: str, variant: str, index: int) -> Path:
    return root / job_id / f"{variant}-{index}.png"


class GenerationWork:
    """Runs a generation job with the shared generator; called only by the worker thread."""

    def __init__(self, generator: PersonalizedGenerator, store: PreferenceStore, blobs: BlobStore):
        self.generator = generator
        self.store = store
        self.blobs = blobs

    def __call__(self, job: Job, report: StepReporter) -> dict[str, Any]:
        request = job.request
        # 1. Settings, checked before any model is touched.
        settings = GenerationSettings.checked(**request["settings"])
        include_plain = bool(request.get("include_plain"))
        offset = 0

        def on_step(step: int, _total: int) -> None:
            report(offset + step)

        # 2. The profile as it is now, with its aesthetic embedding for this CLIP model.
        profile = self.store.profile(job.user_id)
        profile = self._with_aesthetic_embedding(profile)

        # 3. The personalized image(s).
        result = self.generator(
            request["prompt"],
            profile,
            settings=settings,
            negative_prompt=request.get("negative_prompt", ""),
            on_step=on_step,
        )
        self._save(job.id, "image", result)
        offset = settings.steps

        # 4. The plain model's image(s) for the same seed, to compare side by side.
        plain_count = 0
        if include_plain:
            plain = self.generator(
                request["prompt"],
                profile,
                settings=result.settings.updated(vp_degree=0.0, aesthetic_steps=0),
                negative_prompt=request.get("negative_prompt", ""),
                on_step=on_step,
            )
            self._save(job.id, "plain", plain)
            plain_count = len(plain.images)

        return {
            "seed": result.seed,
            "profile_version": profile.version,
            "model": result.model,
            "plan": result.plan.model_dump(mode="json"),
            "aesthetic": dict(result.aesthetic.__dict__),
            "timings": {k: round(v, 4) for k, v in result.timings.items()},
            "images": len(result.images),
            "plain_images": plain_count,
            "settings": result.settings.model_dump(mode="json"),
        }

    def _save(self, job_id: str, variant: str, result: GenerationResult) -> None:
        for index, image in enumerate(result.images):
            data = png_bytes(image, result.metadata(index))
            self.blobs.put(image_key(job_id, variant, index), data)

    def _with_aesthetic_embedding(self, profile: Profile) -> Profile:
        """A broken liked-image file costs the aesthetic steps, not the whole generation."""
        try:
            return ensure_aesthetic_embedding(self.store, profile, self.generator.clip)
        except AestheticEmbeddingError as error:
            log.warning("no aesthetic embedding for %s: %s", profile.user_id, error)
            return profile
