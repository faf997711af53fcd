"""Generations: queue one (202), follow it (status, server-sent events), cancel it, fetch its
images, and tell the profile what you thought of it (feedback becomes a new profile version).

Handlers only write and read job rows; a worker (thread or process) does the model work.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from api.deps import (
    BlobsDep,
    CurrentOwner,
    CurrentUser,
    JobsDep,
    SettingsDep,
    StoreDep,
)
from api.errors import (
    Conflict,
    NotFound,
    TooManyRequests,
    Unavailable,
    Unprocessable,
    describe_validation_error,
)
from api.generation_body import body_of
from api.generation_schemas import (
    GENERATION_LINKS,
    GenerationAccepted,
    GenerationCreate,
    GenerationOut,
    Progress,
)
from api.schemas import Problem
from api.settings import Settings, raised_by
from generation.blend_parts import BlendPart, blend_weights
from generation.lora_files import lora_files
from generation.options import palp_from, settings_from
from generation.reference_files import ReferenceFiles
from generation.render import FLAT_TASTE_NOTE
from generation.request import GenerationRequest
from generation.settings import GenerationSettings, check_prompt
from jobs.generation import GENERATION, image_key
from jobs.progress import JobEvent
from jobs.queue import JobQueue
from jobs.repository import (
    CANCELLED,
    DONE,
    FAILED,
    RUNNING,
    Job,
    JobTooLarge,
    QueueFull,
    UserJobLimit,
)
from preference_store.store import PreferenceStore

router = APIRouter(
    prefix="/v1/generations",
    tags=["generations"],
    responses={401: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
)
JobId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}
MAX_LISTED = 100


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
    given = body.options()
    if given.get("steps", 0) > settings.max_steps:
        raise Unprocessable(f"steps: at most {settings.max_steps} per generation here")
    for side in ("width", "height"):
        if given.get(side, 0) > settings.max_side:
            message = f"{side}: at most {settings.max_side} pixels here"
            raise Unprocessable(raised_by(message, "max_side"))
    if given.get("num_images", 0) > settings.max_images:
        raise Unprocessable(f"num_images: at most {settings.max_images} per generation here")
    if (body.candidates or 0) > settings.max_images:
        raise Unprocessable(f"candidates: at most {settings.max_images} per generation here")
    return settings_from(given, body.request_mode)


def _blend(store: PreferenceStore, user: str, weights: dict[str, float]) -> list[BlendPart]:
    """The caller's profiles a blend names, with normalised weights: an unknown name is a 404
    (resolved within the caller's own account), all-zero weights a 422."""
    normalised = blend_weights(weights)
    return [
        BlendPart(name=name, owner=store.profiles.owner(user, name), weight=weight)
        for name, weight in normalised.items()
    ]


def image_urls(job: Job, variant: str) -> list[str]:
    count = int((job.result or {}).get("plain_images" if variant == "plain" else "images", 0))
    suffix = "?variant=plain" if variant == "plain" else ""
    return [f"/v1/generations/{job.id}/images/{n}{suffix}" for n in range(count)]


def profile_names(store: PreferenceStore, user: str) -> dict[str, str]:
    """Owner key -> name of the caller's profiles: each job records its owner key (``Job.owner``),
    and a rename shows under the new name."""
    return {profile.owner: profile.name for profile in store.profiles.named(user)}


def describe(
    job: Job, runner: JobQueue, names: dict[str, str], event: JobEvent | None = None
) -> GenerationOut:
    """The job row, with the live step of a running job (from ``event`` or the progress bus);
    ``names`` (``profile_names``) names the profile it was made in."""
    result = job.result or {}
    if job.status == DONE:
        step = job.total_steps
    elif job.status == RUNNING:
        live = event.step if event is not None and event.status == RUNNING else None
        step = live if live is not None else runner.step(job.id) or 0
    else:
        step = 0
    request = job.request
    return GenerationOut(
        id=job.id,
        status=job.status,
        prompt=request.prompt if isinstance(request, GenerationRequest) else "",
        progress=Progress(step=step, total=job.total_steps),
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
        seed=result.get("seed"),
        model=result.get("model"),
        profile_version=result.get("profile_version"),
        plan=result.get("plan"),
        aesthetic=result.get("aesthetic"),
        style_refs=result.get("style_refs"),
        timings=result.get("timings", {}),
        image_urls=image_urls(job, "image"),
        plain_image_urls=image_urls(job, "plain"),
        taste_matches=result.get("taste_matches"),
        taste_note=FLAT_TASTE_NOTE if result.get("taste_flat") else None,
        request=body_of(request) if isinstance(request, GenerationRequest) else None,
        profile=names.get(job.owner),
    )


def own_job(runner: JobQueue, user: str, job_id: str, *, any_kind: bool = False) -> Job:
    """The caller's job; images and feedback need a generation, while status, cancel and the
    events stream serve every kind of job (style training reports here too)."""
    job = runner.get(user, job_id)
    if job is None or (job.kind != GENERATION and not any_kind):
        raise NotFound(f"no generation {job_id!r}")
    return job


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        202: {"links": GENERATION_LINKS},
        422: {"model": Problem},
        503: {"model": Problem},
    },
)
def create_generation(
    user: CurrentUser,
    owner: CurrentOwner,
    settings: SettingsDep,
    runner: JobsDep,
    body: GenerationCreate,
    response: Response,
    blobs: BlobsDep,
    store: StoreDep,
) -> GenerationAccepted:
    """Queue a generation of `prompt` in the caller's taste. Follow it with `GET .../{id}` or
    the server-sent events at `.../{id}/events`. A full queue, or more than the per-person
    number of queued and running jobs, answers 429 with Retry-After; a job over the cost bound
    (pixel-steps) answers 422 with the bound."""
    checked = check_limits(body, settings)
    if runner.load_error is not None:
        raise Unavailable(
            f"generation is unavailable: the model failed to load: {runner.load_error}"
        )
    try:
        palp = palp_from(body.options(), body.request_mode)
    except ValidationError as error:
        raise Unprocessable(describe_validation_error(error)) from None
    blend = _blend(store, user, body.blend) if body.blend is not None else None
    try:
        request = GenerationRequest(
            prompt=body.prompt,
            negative_prompt=body.negative_prompt,
            settings=checked,
            include_plain=body.include_plain,
            palp=palp,
            style_ref_ids=body.style_ref_ids,
            candidates=body.candidates,
            init_image=body.init_image,
            owner=None if owner == user else owner,
            blend=blend,
        )
    except ValidationError as error:
        raise Unprocessable(describe_validation_error(error)) from None
    lora_files(settings.lora_library(public=True), request.settings)  # unknown or broken: 422
    files = ReferenceFiles(blobs)
    init = [body.init_image] if body.init_image else []
    for reference in [*body.style_ref_ids, *init]:  # yours, or not found (whoever owns it)
        if files.find(owner, reference) is None:
            raise NotFound(f"no reference {reference} (upload it with POST /v1/references)")
    try:
        job = runner.submit(user, GENERATION, request)
    except (QueueFull, UserJobLimit) as full:
        raise TooManyRequests(str(full), retry_after_s=full.retry_after_s) from None
    except JobTooLarge as large:
        raise Unprocessable(raised_by(str(large), "max_job_pixel_steps")) from None
    response.headers["Location"] = f"/v1/generations/{job.id}"
    events = f"/v1/generations/{job.id}/events"
    return GenerationAccepted(id=job.id, status=job.status, events_url=events)


@router.get("")
def list_generations(
    user: CurrentUser,
    runner: JobsDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = 20,
) -> list[GenerationOut]:
    """Your generations, newest first (any status, every profile), each with the body that
    makes it again and the profile it was made in (POST the body with `?profile=` that)."""
    jobs = runner.repository.recent_for(user, GENERATION, limit)
    names = profile_names(store, user)
    return [describe(job, runner, names) for job in jobs]


@router.get("/{job_id}", responses=NOT_FOUND)
def get_generation(
    user: CurrentUser, runner: JobsDep, store: StoreDep, job_id: JobId
) -> GenerationOut:
    """Status, progress (step/total), the conditioning plan with provenance, timings, images."""
    job = own_job(runner, user, job_id, any_kind=True)
    return describe(job, runner, profile_names(store, user))


@router.delete("/{job_id}", responses={**NOT_FOUND, 409: {"model": Problem}})
def cancel_generation(
    user: CurrentUser, runner: JobsDep, store: StoreDep, job_id: JobId
) -> GenerationOut:
    """Cancel a generation: a queued one ends at once (`cancelled`); a running one stops at its
    next denoising step (it reads `running` until then). A finished one answers 409."""
    job = own_job(runner, user, job_id, any_kind=True)
    if job.status in (DONE, FAILED):
        raise Conflict(f"generation {job_id!r} is already {job.status}; nothing to cancel")
    cancelled = runner.cancel(user, job_id) or job
    return describe(cancelled, runner, profile_names(store, user))


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n"


async def _events(
    request: Request, runner: JobQueue, job: Job, names: dict[str, str]
) -> AsyncIterator[str]:
    """The current state first (what a reconnecting client needs), then the worker's events as
    the progress bus relays them; the job row is re-read when an event says the status
    changed, and every 2 s without events (nothing published is ever the only source)."""
    last: tuple[str, int] | None = None
    quiet = 0
    stream = runner.follow(job.id)
    try:
        event: JobEvent | None = None
        while True:
            if event is None or event.status != job.status or quiet >= 2:
                fresh: Job | None = await run_in_threadpool(runner.repository.get, job.id)
                job, quiet = fresh or job, 0
            view = describe(job, runner, names, event)
            state = (view.status, view.progress.step)
            if state != last:
                last = state
                if view.status == DONE:
                    yield _event("done", view.model_dump(mode="json"))
                    return
                if view.status in (FAILED, CANCELLED):
                    yield _event("error", {"status": view.status, "detail": view.error or ""})
                    return
                yield _event("progress", {"status": view.status, **view.progress.model_dump()})
            if await request.is_disconnected():
                return
            event = await anext(stream)
            if event is None:
                quiet += 1
                if quiet % 15 == 0:
                    yield ": keep-alive\n\n"
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **NOT_FOUND},
)
async def generation_events(
    request: Request, user: CurrentUser, runner: JobsDep, store: StoreDep, job_id: JobId
) -> StreamingResponse:
    """Server-sent events: the current state first, `progress` ({status, step, total}) as steps
    complete, then `done` (the full generation) or `error` ({status, detail}) when it failed or
    was cancelled."""
    job = await run_in_threadpool(lambda: own_job(runner, user, job_id, any_kind=True))
    names = await run_in_threadpool(profile_names, store, user)
    return StreamingResponse(
        _events(request, runner, job, names),
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
    job = own_job(runner, user, job_id)
    name = "plain" if variant == "plain" else "image"
    data = blobs.get(image_key(job.id, name, n)) if job.status == DONE else None
    if data is None:
        raise NotFound(f"generation {job_id!r} has no {variant} image {n}")
    return Response(content=data, media_type="image/png")
