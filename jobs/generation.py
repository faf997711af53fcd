"""The "generation" job kind: its request type, and the handler a worker runs it with.

The handler is a thin shell around ``generation.render`` (``render_request``, the function the
CLI's ``generate`` calls, for one job; ``render_batch`` for several); it only decides where a
job's PNGs live: in the blob store, under ``image_key``, so any API node can serve them. They
are kept back until the job ends and stored by the transaction that marks it done
(``jobs/outputs.py``), as is a new PALP adapter afterwards, so a worker that lost the job to
another stores none of them.
"""

from __future__ import annotations

from collections.abc import Callable

from generation.generator import PersonalizedGenerator
from generation.interrupt import watch
from generation.lora_files import LoraLibrary
from generation.palp_adapters import AdapterStore
from generation.render import (
    BatchEntry,
    ImageSink,
    Ranker,
    Rendered,
    render_batch,
    render_request,
)
from generation.request import GenerationRequest
from jobs.outputs import Finished, JobOutputs
from jobs.repository import Job, JobKinds
from jobs.runner import StepReporter
from preference_store.blobs import BlobStore
from preference_store.store import PreferenceStore
from preference_store.styles import StyleStore

GENERATION = "generation"
GENERATIONS_PREFIX = "generations/"


def register_generation(kinds: JobKinds) -> None:
    kinds.register(GENERATION, GenerationRequest)


def image_key(job_id: str, variant: str, index: int) -> str:
    """The blob key of a generated image (under a file blob store, its file below the data dir;
    in distributed mode, a database row: never read a generated image by a local path)."""
    return f"{GENERATIONS_PREFIX}{job_id}/{variant}-{index}.png"


class GenerationWork:
    """Runs generation jobs with the process's one shared generator."""

    def __init__(
        self,
        generator: PersonalizedGenerator,
        store: PreferenceStore,
        blobs: BlobStore,
        styles: StyleStore | None = None,
        palp_cache: AdapterStore | None = None,
        ranker: Ranker | None = None,
        loras: LoraLibrary | None = None,
    ):
        self.generator = generator
        self.store = store
        self.blobs = blobs
        self.styles = styles
        self.palp_cache = palp_cache
        self.ranker = ranker  # best-of-N's taste match, from the wiring (jobs never import api)
        self.loras = loras  # where LoRA names are found (TASTEMAKER_LORA_DIR)
        watch(generator.pipeline)  # a cancel lands within the step it arrives in

    def __call__(self, job: Job, report: StepReporter) -> Finished:
        request = job.request
        if not isinstance(request, GenerationRequest):
            raise TypeError(f"job {job.id} is a {job.kind} job, not a generation")
        outputs = JobOutputs(blobs=self.blobs)
        rendered = render_request(
            self.generator,
            self.store,
            job.owner,
            request,
            _sink(job.id, outputs),
            on_step=lambda done, _total: report(done),
            styles=self.styles,
            palp_cache=outputs.adapters(self.palp_cache),
            blobs=self.blobs,
            ranker=self.ranker,
            loras=self.loras,
        )
        return outputs.finished(rendered.summary())

    def run_batch(self, jobs: list[Job], reports: list[StepReporter]) -> list[Finished | Exception]:
        """Several generation jobs (one ``batch_key``) in one denoising loop; per job its
        result or the exception that ended it (its cancel, its own bad input)."""
        entries = []
        outputs = [JobOutputs(blobs=self.blobs) for _ in jobs]
        for job, report, kept in zip(jobs, reports, outputs, strict=True):
            request = job.request
            if not isinstance(request, GenerationRequest):
                raise TypeError(f"job {job.id} is a {job.kind} job, not a generation")
            entries.append(
                BatchEntry(job.owner, request, _sink(job.id, kept), on_step=_steps_to(report))
            )
        ended = render_batch(
            self.generator,
            self.store,
            entries,
            styles=self.styles,
            blobs=self.blobs,
            ranker=self.ranker,
            loras=self.loras,
        )
        return [
            kept.finished(o.summary()) if isinstance(o, Rendered) else o
            for o, kept in zip(ended, outputs, strict=True)
        ]


def _sink(job_id: str, outputs: JobOutputs) -> ImageSink:
    """Each PNG under its ``image_key``, kept with the job's results until it is done."""
    return lambda variant, index, _seed, data: outputs.put(image_key(job_id, variant, index), data)


def _steps_to(report: StepReporter) -> Callable[[int, int], None]:
    """(steps done, total) from the renderer -> the job's reporter (it knows its total)."""
    return lambda done, _total: report(done)
