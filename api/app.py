"""The FastAPI application: components built once in the lifespan, one router per resource.

The stores, the extractor, the gallery and the onboarding agent are ready before the first
request; the diffusion models load in the job worker's thread, so ``/healthz`` answers at once
and ``/readyz`` says when generation is ready.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.sessions import SessionRepository
from api.bodies import VersionedBodies
from api.deps import RateLimiter, TokenCache
from api.errors import ServerErrorsAsProblems, install_error_handlers, problem
from api.metrics import Metrics, MetricsMiddleware
from api.onboarding import Onboarding
from api.openapi import add_setting_bounds
from api.retention import RetentionSweeper
from api.routes import (
    choices,
    feedback,
    gallery,
    generations,
    health,
    onboarding,
    preferences,
    profiles,
    references,
    styles,
    users,
)
from api.routes import metrics as metrics_route
from api.settings import Settings
from api.web_security import SecurityHeaders
from api.wiring.agent import build_agent, build_extractor, build_gallery
from api.wiring.jobs import open_job_queue
from api.wiring.services import Components
from api.wiring.taste import build_taste
from generation.loading import LoadedModels
from generation.reference_ids import MAX_REFERENCE_BYTES
from jobs.feedback import apply_pending_feedback
from jobs.feedback_inbox import FeedbackInbox
from jobs.queue import JobQueue
from jobs.runner import batch_snapshot

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("tastemaker.api")


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413, whether announced or streamed.

    A streamed (chunked) body is counted as it arrives; once it passes the limit the 413 is
    sent from here and the app is told the client left, so nothing downstream (FastAPI turns
    any error while reading a body into a 400) can answer in its place."""

    def __init__(self, app: ASGIApp, limit: int, paths: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.paths = paths or {}  # a larger limit for these exact paths (image uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.limit)
        message = f"the request body is over {limit} bytes; send less"
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value  # the last one, as a dict of the headers would keep
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await problem(413, message)(scope, receive, send)
            return
        seen = 0
        state = {"started": False, "refused": False}

        async def limited() -> Message:
            nonlocal seen
            if state["refused"]:
                return {"type": "http.disconnect"}
            incoming = await receive()
            seen += len(incoming.get("body", b""))
            if seen > limit:
                state["refused"] = True
                if not state["started"]:
                    await problem(413, message)(scope, receive, send)
                return {"type": "http.disconnect"}
            return incoming

        async def guarded(outgoing: Message) -> None:
            if state["refused"]:
                return  # the 413 has been sent; whatever the app answers goes nowhere
            state["started"] = True
            await send(outgoing)

        await self.app(scope, limited, guarded)


def _build(app: FastAPI, components: Components, models: LoadedModels | None) -> None:
    """Everything a request may need, built once (blocking: runs in a thread)."""
    settings = components.settings
    state = app.state
    state.settings = settings
    state.accounts = components.accounts
    state.tokens = TokenCache(components.accounts)
    state.limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    state.preference_bodies = VersionedBodies()  # before the store: routes check the store
    state.store = components.store  # loads the embedder and opens chromadb once
    state.blobs = components.blobs
    if settings.image_retention_days is not None:
        state.retention = RetentionSweeper(components.blobs, settings.image_retention_days)
        state.retention.start()
    state.styles = components.styles
    extractor = build_extractor(settings, components.embedder)
    state.extractor = extractor
    state.gallery = build_gallery(settings)
    state.taste = build_taste(
        components, state.gallery, clip=models.clip if models is not None else None
    )
    agent = build_agent(
        components, extractor=extractor, gallery=state.gallery, chosen=state.taste.chosen
    )
    state.onboarding = Onboarding(
        agent, SessionRepository(components.engine), state.gallery, components.engine
    )
    state.metrics.watch_corrections(state.onboarding.sessions.correction_counts)
    runner = open_job_queue(components, models)
    state.metrics.watch_jobs(runner.stats)
    state.metrics.watch_batches(batch_snapshot(runner))
    runner.start()
    state.jobs = runner
    state.feedback_inbox = FeedbackInbox(components.engine)
    threading.Thread(  # may wait on the LLM: never in the way of start-up
        target=apply_pending_feedback,
        args=(
            components.store,
            extractor,
            state.feedback_inbox,
            runner.repository,
            components.blobs,
        ),
        name="pending-feedback",
        daemon=True,
    ).start()


def create_app(settings: Settings | None = None, *, models: LoadedModels | None = None) -> FastAPI:
    """The app; ``models`` serves an already-built pipeline instead of loading ``settings.model``
    (benchmarks build SD 1.5's shapes with random weights this way)."""
    components = Components(settings)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.metrics = metrics
        app.state.slow_lane = anyio.CapacityLimiter(components.settings.slow_lane_threads)
        await run_in_threadpool(_build, app, components, models)
        gc.freeze()  # see api.wiring.jobs.load_handlers
        try:
            yield
        finally:
            runner: JobQueue | None = getattr(app.state, "jobs", None)
            if runner is not None:
                await run_in_threadpool(runner.stop)
            retention: RetentionSweeper | None = getattr(app.state, "retention", None)
            if retention is not None:
                await run_in_threadpool(retention.stop)

    app = FastAPIOffline(  # /docs and /redoc with their assets from the package, no CDN
        title="tastemaker",
        version="0.1.0",
        summary="Learns a person's visual taste and makes Stable Diffusion follow it.",
        description=(
            "Authenticate with `Authorization: Bearer <token>` (from `POST /v1/users` or "
            '`tastemaker users create NAME`). Every error answers `{"detail": "..."}`.'
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    add_setting_bounds(app, components.settings)
    for router in (
        health,
        metrics_route,
        users,
        profiles,
        choices,  # before preferences: /v1/preferences/taste is not an attribute id
        preferences,
        gallery,
        onboarding,
        generations,
        feedback,
        styles,
        references,
    ):
        app.include_router(router.router)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(ServerErrorsAsProblems)  # innermost: metrics see its 500
    app.add_middleware(
        BodyLimit,
        limit=components.settings.max_body_bytes,
        paths={references.UPLOAD_PATH: MAX_REFERENCE_BYTES},
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
