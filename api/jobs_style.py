"""Style training as a job: ``train_style_job(request, progress, should_stop)`` and the one place
that routes a job to it by its ``kind``.

It runs in the generation worker thread, on the same shared pipeline (one job at a time per
pipeline), and never writes that pipeline's modules (``generation.style_training``). The job
system is being reworked (typed requests per kind, cancel); ``train_style_job`` is the function
to register there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.jobs import Job
from api.jobs_runner import StepReporter, Work
from generation.generator import PersonalizedGenerator
from generation.style_library import train_for_profile
from generation.style_training import ProgressCallback, StopCheck, TrainingConfig
from preference_store.store import PreferenceStore
from preference_store.styles import StyleStore

STYLE_TRAINING = "style_training"


def style_request(user_id: str, config: TrainingConfig, *, negative: bool) -> dict[str, Any]:
    """The job request for a training run (what ``POST /v1/styles`` queues)."""
    return {
        "kind": STYLE_TRAINING,
        "user_id": user_id,
        "negative": negative,
        "config": {"steps": config.steps, "vectors": config.vectors, "lr": config.lr},
    }


class StyleTraining:
    """Trains and stores tokens for the worker's pipeline."""

    def __init__(
        self, generator: PersonalizedGenerator, store: PreferenceStore, styles: StyleStore
    ) -> None:
        self.generator = generator
        self.store = store
        self.styles = styles

    def train_style_job(
        self, request: dict[str, Any], progress: ProgressCallback, should_stop: StopCheck
    ) -> dict[str, Any]:
        """Train the user's token from their profile as it is now; the job's result."""
        config = TrainingConfig(**request["config"]).check()
        profile = self.store.profile(request["user_id"], with_aesthetic=False)
        trained = train_for_profile(
            self.generator.pipeline,
            model=self.generator.model_name,
            profile=profile,
            styles=self.styles,
            negative=bool(request.get("negative")),
            config=config,
            progress=progress,
            should_stop=should_stop,
        )
        result = trained.result
        return {
            "kind": STYLE_TRAINING,
            "style_id": trained.record.id if trained.record else None,
            "model": self.generator.model_name,
            "profile_version": profile.version,
            "steps": result.steps,
            "stopped_early": result.stopped_early,
            "cancelled": result.cancelled,
            "losses": [round(v, 5) for v in result.losses],
            "seconds": round(result.seconds, 3),
            "init_word": result.init_word,
        }

    def __call__(self, job: Job, report: StepReporter) -> dict[str, Any]:
        request = {**job.request, "user_id": job.user_id}
        return self.train_style_job(request, lambda step, _loss: report(step), lambda: False)


def dispatch(generation: Work, training: Callable[[Job, StepReporter], dict[str, Any]]) -> Work:
    """One worker function for both kinds of job (generations have no ``kind``)."""

    def work(job: Job, report: StepReporter) -> dict[str, Any]:
        if job.request.get("kind") == STYLE_TRAINING:
            return training(job, report)
        return generation(job, report)

    return work
