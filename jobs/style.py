"""The "style_training" job kind: its typed request, and the handler a worker runs it with.

Training runs on the worker's shared pipeline, one job at a time like every job there, and never
writes that pipeline's modules (``generation.style_training`` learns a private copy of the token
rows). Its progress is one event per training step on the generations events route; a cancel
stops it within the step it arrives in (``generation.interrupt``) and stores nothing.
The token is stored by the transaction that marks the job done (``jobs/outputs.py``), so a
worker that lost the job to another (it was paused past its lease) stores no second token.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator

from generation.generator import PersonalizedGenerator
from generation.interrupt import watch
from generation.style_library import train_for_profile
from generation.style_training import TrainingConfig
from jobs.outputs import Finished, JobOutputs
from jobs.repository import Job, JobKinds
from jobs.runner import StepReporter
from preference_store.blobs import BlobStore
from preference_store.store import PreferenceStore
from preference_store.styles import StyleStore

STYLE_TRAINING = "style_training"
TRAINING_SIDE = 512
"""Pixels a side one training sample counts as when costing a job (SD 1.x's native size; one
sample's forward + backward costs about what one guided denoising step of that size does)."""


class StyleTrainingRequest(BaseModel):
    """Train the owner's positive token (liked images) or, with ``negative``, the negative one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    negative: bool = False
    owner: str | None = None  # a named profile's owner key; None: the account's default
    steps: int = TrainingConfig.steps
    vectors: int = TrainingConfig.vectors
    lr: float = TrainingConfig.lr

    @model_validator(mode="after")
    def _bounded(self) -> StyleTrainingRequest:
        self.config()  # the bounds live in TrainingConfig.check, with their messages
        return self

    def config(self) -> TrainingConfig:
        return TrainingConfig(steps=self.steps, vectors=self.vectors, lr=self.lr).check()

    def total_steps(self) -> int:
        return self.steps

    def pixel_steps(self) -> int:
        return TRAINING_SIDE * TRAINING_SIDE * self.steps

    def too_large(self, limit: int) -> str:
        fits = limit // (TRAINING_SIDE * TRAINING_SIDE)
        return (
            f"this style training costs {self.pixel_steps():,} pixel-steps ({self.steps} steps at "
            f"{TRAINING_SIDE}²); the limit here is {limit:,}: at most {fits} steps fit"
        )

    def batch_key(self) -> tuple[object, ...]:
        return (STYLE_TRAINING, id(self))  # never batched with another job


def register_style_training(kinds: JobKinds) -> None:
    kinds.register(STYLE_TRAINING, StyleTrainingRequest)


class StyleTraining:
    """Trains and stores tokens for the worker's pipeline."""

    def __init__(
        self,
        generator: PersonalizedGenerator,
        store: PreferenceStore,
        styles: StyleStore,
        blobs: BlobStore,
    ) -> None:
        self.generator = generator
        self.store = store
        self.styles = styles
        self.blobs = blobs  # liked generated images live here, not on this worker's disk
        watch(generator.pipeline)  # a cancel lands within the training step it arrives in

    def __call__(self, job: Job, report: StepReporter) -> Finished:
        request = job.request
        if not isinstance(request, StyleTrainingRequest):
            raise TypeError(f"job {job.id} is a {job.kind} job, not style training")
        profile = self.store.profile(job.owner, with_aesthetic=False)
        outputs = JobOutputs(styles=self.styles)
        trained = train_for_profile(
            self.generator.pipeline,
            model=self.generator.model_name,
            profile=profile,
            styles=outputs,
            negative=request.negative,
            config=request.config(),
            progress=lambda step, _loss: report(step),
            keep_cancelled=False,
            blobs=self.blobs,
        )
        result = trained.result
        return outputs.finished(
            {
                "kind": STYLE_TRAINING,
                "style_id": trained.record.id if trained.record else None,
                "model": self.generator.model_name,
                "profile_version": profile.version,
                "steps": result.steps,
                "stopped_early": result.stopped_early,
                "losses": [round(v, 5) for v in result.losses],
                "seconds": round(result.seconds, 3),
                "init_word": result.init_word,
            }
        )
