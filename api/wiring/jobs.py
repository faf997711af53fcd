"""Settings in, the job system out: kinds, rules, progress bus, and the engine that runs jobs.

Embedded (no broker URL): ``LocalJobQueue``, a worker thread in this process. With
``TASTEMAKER_BROKER_URL``: ``CeleryJobQueue`` here and ``tastemaker worker`` processes elsewhere.
New job kinds are registered in ``job_kinds`` and get a handler in ``load_handlers``.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping

from api.settings import Settings
from api.wiring.generation import open_generator, open_models
from api.wiring.services import Components
from api.wiring.taste import open_ranker
from api.wiring.threads import use_torch_threads
from generation.loading import LoadedModels
from generation.palp_adapters import AdapterCache
from jobs.generation import GENERATION, GenerationWork, register_generation
from jobs.progress import LocalProgress, ProgressBus, RedisProgress
from jobs.queue import JobQueue
from jobs.repository import AdmissionRules, JobKinds, JobRepository
from jobs.runner import Handler, LocalJobQueue
from jobs.style import STYLE_TRAINING, StyleTraining, register_style_training

log = logging.getLogger("tastemaker.jobs")


def job_kinds() -> JobKinds:
    kinds = JobKinds()
    register_generation(kinds)
    register_style_training(kinds)
    return kinds


def admission_rules(settings: Settings) -> AdmissionRules:
    return AdmissionRules(
        per_user=settings.max_jobs_per_user,
        capacity=settings.job_queue_size,
        max_pixel_steps=settings.max_job_pixel_steps,
    )


def open_progress(settings: Settings) -> ProgressBus:
    url = settings.resolved_redis_url
    if settings.broker_url and url is None:
        raise ValueError(
            "jobs run in worker processes (TASTEMAKER_BROKER_URL is set), so progress needs "
            "Redis: set TASTEMAKER_REDIS_URL"
        )
    return RedisProgress(url) if url else LocalProgress()


def load_handlers(
    components: Components, models: LoadedModels | None = None, *, beside_api: bool = False
) -> dict[str, Handler]:
    """Load the models once (in the thread or process that runs jobs); a handler per kind.
    ``beside_api``: the jobs run in a thread of the API process, which keeps a core."""
    settings = components.settings
    use_torch_threads(settings, beside_api=beside_api)
    models = models or open_models(settings)
    log.info("generation model %s loaded", models.name)
    # The loaded libraries and models are millions of long-lived objects: left to the cyclic
    # GC, each full collection stalls every request for ~0.4 s (measured by bench/api.py).
    gc.freeze()
    generator = open_generator(models)
    styles = components.styles
    handlers: Mapping[str, Handler] = {
        GENERATION: GenerationWork(
            generator,
            components.store,
            components.blobs,
            styles,
            AdapterCache(settings.palp_cache_dir, max_bytes=settings.palp_cache_mb * 1024 * 1024),
            open_ranker(components, generator.clip),
            settings.lora_library(public=True),
        ),
        STYLE_TRAINING: StyleTraining(generator, components.store, styles, components.blobs),
    }
    return dict(handlers)


def open_job_queue(components: Components, models: LoadedModels | None = None) -> JobQueue:
    """The API's queue: Celery when a broker is configured, else the in-process worker."""
    settings = components.settings
    kinds = job_kinds()
    repository = JobRepository(components.engine, kinds)
    progress = open_progress(settings)
    rules = admission_rules(settings)
    if settings.broker_url:
        from jobs.celery_engine import CeleryJobQueue, celery_app

        app = celery_app(
            settings.broker_url, visibility_timeout_s=settings.job_visibility_timeout_s
        )
        return CeleryJobQueue(repository, progress, rules, app)
    return LocalJobQueue(
        repository,
        progress,
        rules,
        lambda: load_handlers(components, models, beside_api=True),
        kinds.names(),
        max_batch=settings.max_batch,
        gather_s=settings.batch_window_ms / 1000,
    )
