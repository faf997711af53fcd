"""Generations: queue one (202), follow it (status, server-sent events), fetch its images, and
tell the profile what you thought of it (feedback becomes a new profile version).

Handlers only write and read job rows; the worker thread does the model work.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import (
    BlobsDep,
    CurrentUser,
    JobsDep,
    SettingsDep,
    SlowLaneDep,
    StoreDep,
    in_lane,
)
from api.errors import Conflict, NotFound, TooManyRequests, Unavailable, Unprocessable
from api.feedback_inbox import FeedbackInbox
from api.jobs import DONE, FAILED, QUEUED, Job, JobRepository
from api.jobs_generation import image_key, image_path
from api.jobs_runner import JobRunner, QueueFull
from api.routes.feedback import apply_feedback
from api.schemas import (
    FeedbackIn,
    FeedbackOut,
    GenerationAccepted,
    GenerationCreate,
    GenerationOut,
    Problem,
    Progress,
)
from api.settings import Settings
from generation.settings import GenerationSettings, check_prompt

router = APIRouter(
    prefix="/v1/generations",
    tags=["generations"],
    responses={401: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
)
JobId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}


def check_limits(body: GenerationCreate, settings: Settings) -> GenerationSettings:
    """The service's own bounds (tighter than the generator's), each with a plain message."""
    if len(body.prompt) > settings.max_prompt_chars:
        raise Unprocessable(
            f"the prompt has {len(body.prompt)} characters; at most "
            f"{settings.max_prompt_chars} are accepted"
        )
    if len(body.negative_prompt) > settings.max_prompt_chars:
        raise Unprocessable(f"the negative prompt is over {settings.max_prompt_chars} characters")
    check_prompt(body.prompt)
    check_prompt(body.negative_prompt, what="negative prompt", allow_empty=True)
    if body.steps is not None and body.steps > settings.max_steps:
        raise Unprocessable(f"steps: at most {settings.max_steps} per generation here")
    for side in ("width", "height"):
        value = getattr(body, side)
        if value is not None and value > settings.max_side:
            raise Unprocessable(f"{side}: at most {settings.max_side} pixels here")
    if body.num_images is not None and body.num_images > settings.max_images:
        raise Unprocessable(f"num_images: at most {settings.max_images} per generation here")
    return GenerationSettings.checked(**body.settings())


def image_urls(job: Job, variant: str) -> list[str]:
    count = int((job.result or {}).get("plain_images" if variant == "plain" else "images", 0))
    suffix = "?variant=plain" if variant == "plain" else ""
    return [f"/v1/generations/{job.id}/images/{n}{suffix}" for n in range(count)]


def describe(job: Job, runner: JobRunner) -> GenerationOut:
    result = job.result or {}
    if job.status == DONE:
        step = job.total_steps
    elif job.status == QUEUED or job.status == FAILED:
        step = 0
    else:
        step = runner.step(job.id) or 0
    return GenerationOut(
        id=job.id,
        status=job.status,
        prompt=str(job.request.get("prompt", "")),
        progress=Progress(step=step, total=job.total_steps),
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
        seed=result.get("seed"),
        model=result.get("model"),
        profile_version=result.get("profile_version"),
        plan=result.get("plan"),
        aesthetic=result.get("aesthetic"),
        timings=result.get("timings", {}),
        image_urls=image_urls(job, "image"),
        plain_image_urls=image_urls(job, "plain"),
    )


def _own_job(runner: JobRunner, user: str, job_id: str) -> Job:
    job = runner.repository.get_for(user, job_id)
    if job is None:
        raise NotFound(f"no generation {job_id!r}")
    return job


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={422: {"model": Problem}, 503: {"model": Problem}},
)
def create_generation(
    user: CurrentUser,
    settings: SettingsDep,
    runner: JobsDep,
    body: GenerationCreate,
    response: Response,
) -> GenerationAccepted:
    """Queue a generation of `prompt` in the caller's taste. Follow it with `GET .../{id}` or
    the server-sent events at `.../{id}/events`. A full queue answers 429 with Retry-After."""
    checked = check_limits(body, settings)
    if runner.load_error is not None:
        raise Unavailable(
            f"generation is unavailable: the model failed to load: {runner.load_error}"
        )
    request = {
        "prompt": body.prompt.strip(),
        "negative_prompt": body.negative_prompt.strip(),
        "settings": body.settings(),
        "include_plain": body.include_plain,
    }
    total = checked.steps * (2 if body.include_plain else 1)
    try:
        job = runner.submit(user, request, total)
    except QueueFull as full:
        raise TooManyRequests(str(full), retry_after_s=full.retry_after_s) from None
    response.headers["Location"] = f"/v1/generations/{job.id}"
    events = f"/v1/generations/{job.id}/events"
    return GenerationAccepted(id=job.id, status=job.status, events_url=events)


@router.get("/{job_id}", responses=NOT_FOUND)
def get_generation(user: CurrentUser, runner: JobsDep, job_id: JobId) -> GenerationOut:
    """Status, progress (step/total), the conditioning plan with provenance, timings, images."""
    return describe(_own_job(runner, user, job_id), runner)


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n"


async def _events(request: Request, runner: JobRunner, job: Job) -> AsyncIterator[str]:
    """Progress comes from the worker's memory every 0.1 s; the job row is read only when the
    job is not running here (queued, or just finished), at most every 0.5 s."""
    repository: JobRepository = runner.repository
    last: tuple[str, int] | None = None
    ticks = 0
    while True:
        running_here = runner.step(job.id) is not None and job.status == "running"
        if not running_here and (ticks % 5 == 0 or job.status == "running"):
            fresh: Job | None = await run_in_threadpool(repository.get, job.id)
            job = fresh or job
        view = describe(job, runner)
        state = (view.status, view.progress.step)
        if state != last:
            last = state
            if view.status == DONE:
                yield _event("done", view.model_dump(mode="json"))
                return
            if view.status == FAILED:
                yield _event("error", {"detail": view.error or "the generation failed"})
                return
            yield _event("progress", {"status": view.status, **view.progress.model_dump()})
        elif ticks % 150 == 149:
            yield ": keep-alive\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.1)
        ticks += 1


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **NOT_FOUND},
)
async def generation_events(
    request: Request, user: CurrentUser, runner: JobsDep, job_id: JobId
) -> StreamingResponse:
    """Server-sent events: `progress` ({status, step, total}) as steps complete, then `done`
    (the full generation) or `error` ({detail})."""
    job = await run_in_threadpool(_own_job, runner, user, job_id)
    return StreamingResponse(
        _events(request, runner, job),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/{job_id}/images/{n}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **NOT_FOUND},
)
def generation_image(
    user: CurrentUser,
    runner: JobsDep,
    blobs: BlobsDep,
    job_id: JobId,
    n: Annotated[int, Path(ge=0, le=64)],
    variant: Annotated[Literal["personalized", "plain"], Query()] = "personalized",
) -> Response:
    """Image `n` (from 0) as PNG, with the prompt, seed, settings and attributes applied in its
    text chunks; `variant=plain` for the plain model's image of the same seed. Any API node
    serves it: it is read from the blob store, whichever worker made it."""
    job = _own_job(runner, user, job_id)
    name = "plain" if variant == "plain" else "image"
    data = blobs.get(image_key(job.id, name, n)) if job.status == DONE else None
    if data is None:
        raise NotFound(f"generation {job_id!r} has no {variant} image {n}")
    return Response(content=data, media_type="image/png")


@router.post("/{job_id}/feedback", responses={**NOT_FOUND, 409: {"model": Problem}})
async def generation_feedback(
    request: Request,
    user: CurrentUser,
    settings: SettingsDep,
    runner: JobsDep,
    store: StoreDep,
    lane: SlowLaneDep,
    job_id: JobId,
    body: FeedbackIn,
) -> FeedbackOut:
    """Say whether you liked the image, optionally why: the comment goes through the extractor
    and, with the image itself, updates your profile as a new version."""
    if body.comment is not None and len(body.comment) > settings.max_comment_chars:
        raise Unprocessable(
            f"the comment has {len(body.comment)} characters; keep it under "
            f"{settings.max_comment_chars}"
        )
    extractor = getattr(request.app.state, "extractor", None)
    if extractor is None:
        raise Unavailable("the extractor is not loaded yet")

    def apply() -> FeedbackOut:
        job = _own_job(runner, user, job_id)
        if job.status != DONE:
            raise Conflict(f"generation {job_id!r} is {job.status}; give feedback once it is done")
        path = image_path(settings.generations_dir, job.id, "image", 0)
        inbox: FeedbackInbox = request.app.state.feedback_inbox
        return apply_feedback(store, extractor, inbox, job, body, path)

    return await in_lane(lane, apply)
