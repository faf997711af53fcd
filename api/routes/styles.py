"""Style tokens over HTTP: train one (a queued job, 202), list, export as a file, delete.

Training runs in the same worker and queue as generations; its progress is on the generations
events route (``/v1/generations/{id}/events``), one step per training step.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import ValidationError

from api.deps import CurrentOwner, CurrentUser, JobsDep, StoreDep, StylesDep
from api.errors import TooManyRequests, Unavailable, Unprocessable, describe_validation_error
from api.generation_schemas import JOB_LINKS, GenerationAccepted
from api.schemas import Problem, StyleCreate, StyleOut
from api.settings import raised_by
from generation.style_formats import export_token, from_blob
from generation.style_training import MAX_IMAGES, MIN_IMAGES
from jobs.repository import JobTooLarge, QueueFull, UserJobLimit
from jobs.style import STYLE_TRAINING, StyleTrainingRequest
from preference_store.styles import STYLE_ID_PATTERN, StyleRecord, default_ids

router = APIRouter(
    prefix="/v1/styles",
    tags=["styles"],
    responses={401: {"model": Problem}, 422: {"model": Problem}},
)
StyleId = Annotated[str, Path(min_length=1, max_length=64, pattern=STYLE_ID_PATTERN)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}


def _out(record: StyleRecord, defaults: set[str]) -> StyleOut:
    return StyleOut(
        id=record.id,
        name=record.name,
        model=record.model,
        family=record.family,
        negative=record.negative,
        source=record.source,
        profile_version=record.profile_version,
        steps=record.steps,
        losses=record.losses,
        image_count=len(record.image_ids),
        created_at=record.created_at,
        cancelled=record.cancelled,
        default=record.id in defaults,
    )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={202: {"links": JOB_LINKS}, 503: {"model": Problem}},
)
def train_style(
    user: CurrentUser,
    owner: CurrentOwner,
    store: StoreDep,
    runner: JobsDep,
    body: StyleCreate,
    response: Response,
) -> GenerationAccepted:
    """Queue training of the caller's style token; follow it on the events URL."""
    try:
        request = StyleTrainingRequest(
            negative=body.negative,
            steps=body.steps,
            vectors=body.vectors,
            lr=body.lr,
            owner=None if owner == user else owner,
        )
        request.config()
    except ValidationError as error:
        raise Unprocessable(describe_validation_error(error)) from None
    profile = store.profile(owner, with_aesthetic=False)
    reactions = profile.disliked_images if body.negative else profile.liked_images
    count = sum(1 for r in reactions if r.path)
    if not MIN_IMAGES <= count <= MAX_IMAGES:
        which = "disliked" if body.negative else "liked"
        raise Unprocessable(
            f"training needs {MIN_IMAGES} to {MAX_IMAGES} {which} images; the profile has {count}"
        )
    if runner.load_error is not None:
        raise Unavailable(f"training is unavailable: the model failed to load: {runner.load_error}")
    try:
        job = runner.submit(user, STYLE_TRAINING, request)
    except (QueueFull, UserJobLimit) as full:
        raise TooManyRequests(str(full), retry_after_s=full.retry_after_s) from None
    except JobTooLarge as large:
        raise Unprocessable(raised_by(str(large), "max_job_pixel_steps")) from None
    response.headers["Location"] = f"/v1/generations/{job.id}"
    return GenerationAccepted(
        id=job.id, status=job.status, events_url=f"/v1/generations/{job.id}/events"
    )


@router.get("")
def list_styles(owner: CurrentOwner, styles: StylesDep) -> list[StyleOut]:
    """The caller's tokens, newest first: model, profile version, steps, loss curve, images,
    whether training was cancelled, and which one generation uses."""
    records = styles.list_tokens(owner)
    defaults = default_ids(records)
    return [_out(record, defaults) for record in records]


@router.get(
    "/{style_id}/export",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, **NOT_FOUND},
)
def export_style(
    owner: CurrentOwner,
    styles: StylesDep,
    style_id: StyleId,
    format: Annotated[Literal["diffusers", "a1111"], Query()] = "diffusers",
    suffix: Annotated[Literal[".safetensors", ".pt"], Query()] = ".safetensors",
) -> Response:
    """The token as diffusers' learned_embeds.safetensors or an A1111 embedding (.pt or
    .safetensors), ready for `load_textual_inversion`, A1111 or ComfyUI."""
    if format == "diffusers" and suffix == ".pt":
        raise Unprocessable("diffusers token files are .safetensors")
    record, blob = styles.get(owner, style_id)
    data = export_token(
        from_blob(blob), name=record.name, fmt=format, suffix=suffix, step=record.steps
    )
    filename = "learned_embeds.safetensors" if format == "diffusers" else f"{record.id}{suffix}"
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.delete("/{style_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
def delete_style(owner: CurrentOwner, styles: StylesDep, style_id: StyleId) -> Response:
    styles.delete(owner, style_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
