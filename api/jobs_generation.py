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
from generation.png import save_png
from generation.settings import GenerationSettings
from generation.style_library import tokens_for
from preference_store.models import Profile
from preference_store.store import PreferenceStore
from preference_store.styles import StyleStore

log = logging.getLogger("tastemaker.jobs")


def image_path(root: Path, job_id: str, variant: str, index: int) -> Path:
    return root / job_id / f"{variant}-{index}.png"


class GenerationWork:
    """Runs a generation job with the shared generator; called only by the worker thread."""

    def __init__(
        self,
        generator: PersonalizedGenerator,
        store: PreferenceStore,
        out_dir: Path,
        styles: StyleStore | None = None,
    ):
        self.generator = generator
        self.store = store
        self.out_dir = out_dir
        self.styles = styles

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
        style, negative_style = (
            tokens_for(self.styles, job.user_id, self.generator.model_name)
            if self.styles is not None
            else (None, None)
        )

        # 3. The personalized image(s).
        result = self.generator(
            request["prompt"],
            profile,
            settings=settings,
            negative_prompt=request.get("negative_prompt", ""),
            on_step=on_step,
            style=style,
            negative_style=negative_style,
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
            path = image_path(self.out_dir, job_id, variant, index)
            save_png(image, path, result.metadata(index))

    def _with_aesthetic_embedding(self, profile: Profile) -> Profile:
        """A broken liked-image file costs the aesthetic steps, not the whole generation."""
        try:
            return ensure_aesthetic_embedding(self.store, profile, self.generator.clip)
        except AestheticEmbeddingError as error:
            log.warning("no aesthetic embedding for %s: %s", profile.user_id, error)
            return profile
