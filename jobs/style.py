"""The "style_training" job kind: its typed request, and the handler a worker runs it with.

Training runs on the worker's shared pipeline, one job at a time like every job there, and never
writes that pipeline's modules (``generation.style_training`` learns a private copy of the token
rows). Its progress is one event per training step on the generations events route; a cancel
stops it within the step it arrives in (``generation.interrupt``) and stores nothing.
The token is stored by the transaction that marks the job done (``jobs/outputs.py``), so a
worker that lost the job to another (it was paused past its lease) stores no second token.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from generation.aesthetic import ensure_aesthetic_embedding
from generation.errors import AestheticEmbeddingError, InvalidGenerationRequest
from generation.generator import PersonalizedGenerator
from generation.interrupt import watch
from generation.style_library import TokenWriter, TrainedStyle, train_for_profile
from generation.style_refs import ReferenceEmbedder
from generation.style_training import MAX_IMAGES, ProgressCallback, StopCheck, TrainingConfig
from jobs.outputs import Finished, JobOutputs
from jobs.repository import Job, JobKinds
from jobs.runner import StepReporter
from preference_store.blobs import BlobStore
from preference_store.models import Profile
from preference_store.store import PreferenceStore
from preference_store.styles import MAX_TRAINED_VECTORS, StyleRecord, StyleStore

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
    image_ids: list[str] | None = Field(
        default=None,
        max_length=MAX_IMAGES,
        description="Train on these of the profile's images only (a rebuild: the images an "
        "earlier token learned from); all of them when left out.",
    )
    rebuild: bool = Field(
        default=False,
        description="Also make the profile's aesthetic embedding and reference set for the "
        'worker\'s model first (docs/design.md, "Rebuilding for a new model").',
    )

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
        profile = self.store.profile(job.owner)
        outputs = JobOutputs(styles=self.styles)
        made = (
            rebuild_embeddings(self.generator, self.store, profile, self.blobs)
            if request.rebuild
            else {}
        )
        trained = train_request(
            self.generator,
            profile,
            request,
            outputs,
            progress=lambda step, _loss: report(step),
            keep_cancelled=False,
            blobs=self.blobs,
            label=profile_label(self.store, job.owner),
        )
        result = trained.result
        return outputs.finished(
            {
                **made,
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


def train_request(
    generator: PersonalizedGenerator,
    profile: Profile,
    request: StyleTrainingRequest,
    styles: TokenWriter,
    *,
    progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    keep_cancelled: bool = True,
    blobs: BlobStore | None = None,
    label: str | None = None,
) -> TrainedStyle:
    """Train the request's token on the generator's model (the job's work; the CLI's rebuild
    runs it too, with its own progress bar), on ``image_ids`` only when given; ``label``
    names it (``profile_label``)."""
    if request.image_ids is not None:
        wanted = set(request.image_ids)
        side = "disliked_images" if request.negative else "liked_images"
        kept = [r for r in getattr(profile, side) if r.image_id in wanted]
        profile = profile.model_copy(update={side: kept})
    return train_for_profile(
        generator.pipeline,
        model=generator.model_name,
        profile=profile,
        styles=styles,
        negative=request.negative,
        config=request.config(),
        progress=progress,
        should_stop=should_stop,
        keep_cancelled=keep_cancelled,
        blobs=blobs,
        label=label,
    )


def profile_label(store: PreferenceStore, owner: str) -> str:
    """What a profile's tokens are named after: ``alice``, or ``alice-zines``."""
    user, name = store.profiles.account_of(owner)
    return user if owner == user else f"{user}-{name}"


def rebuild_embeddings(
    generator: PersonalizedGenerator,
    store: PreferenceStore,
    profile: Profile,
    blobs: BlobStore | None,
) -> dict[str, Any]:
    """The profile's aesthetic embedding for the generator's CLIP and its reference set for
    the generator's IP-Adapter, made now and cached beside those of other models (which stay
    readable); what was made, by name (None: nothing to make it from, or no such model)."""
    aesthetic = None
    clip = generator.clip
    if clip is not None:
        try:
            made = ensure_aesthetic_embedding(store, profile, clip, blobs)
        except AestheticEmbeddingError:
            made = profile
        aesthetic = clip.name if clip.name in made.aesthetic_embeddings else None
    references = None
    adapter = generator.style_adapter
    if adapter is not None:
        try:
            chosen = ReferenceEmbedder(adapter, store.references).profile_set(profile, blobs)
        except (OSError, InvalidGenerationRequest):
            chosen = None
        references = len(chosen.sources) if chosen is not None else None
    return {"aesthetic_clip": aesthetic, "reference_images": references}


def rebuild_sources(styles: StyleStore, owner: str, model: str) -> list[StyleRecord]:
    """The tokens a rebuild for ``model`` learns again: the default positive and negative
    token of the profile (any model), for each polarity ``model`` has no token of yet."""
    found = [
        styles.latest(owner, None, negative=negative)
        for negative in (False, True)
        if styles.latest(owner, model, negative=negative) is None
    ]
    return [record for record, _ in filter(None, found)]


def rebuild_request(
    record: StyleRecord, owner: str | None, steps: int | None
) -> StyleTrainingRequest:
    """The training that learns ``record`` again for another model: the same images, vectors
    and polarity, as many steps as it took (or ``steps``)."""
    return StyleTrainingRequest(
        negative=record.negative,
        owner=owner,
        steps=steps or max(1, record.steps),
        vectors=min(record.vectors, MAX_TRAINED_VECTORS),
        image_ids=list(record.image_ids),
        rebuild=True,
    )
