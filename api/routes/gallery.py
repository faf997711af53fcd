"""The onboarding gallery: its images and what each shows. Public: it holds no user data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse

from agent.gallery import GalleryError
from api.deps import GalleryDep
from api.errors import NotFound
from api.schemas import GalleryImageOut, Problem

router = APIRouter(prefix="/v1/gallery", tags=["gallery"], responses={422: {"model": Problem}})


def image_url(image_id: str) -> str:
    return f"/v1/gallery/{image_id}"


@router.get("")
def list_gallery(gallery: GalleryDep) -> list[GalleryImageOut]:
    """Every image a person may be asked about, with its description and visible features."""
    return [
        GalleryImageOut(
            id=image.id,
            description=image.description,
            url=image_url(image.id),
            tags=[{"text": t.text, "category": t.category.value} for t in image.tags],
        )
        for image in gallery.images
    ]


@router.get(
    "/{image_id}",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}}, 404: {"model": Problem}},
)
def gallery_image(
    gallery: GalleryDep,
    image_id: Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")],
) -> FileResponse:
    """The image file."""
    try:
        image = gallery.get(image_id)
    except GalleryError:
        raise NotFound(f"no image {image_id!r} in the gallery") from None
    return FileResponse(gallery.path(image), headers={"Cache-Control": "public, max-age=3600"})
