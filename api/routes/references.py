"""Style references over HTTP: upload an image (PNG, JPEG, WebP), list yours, fetch one, delete
one. A generation names them in ``style_ref_ids`` (docs/design.md, "Style references").

The body is the image itself (``Content-Type: image/png`` ...), at most 10 MB: a larger one is
refused with 413 by ``BodyLimit`` from its Content-Length, before it is read. Its header's size
is checked (≤ 4096²) before it is decoded; what is not a whole image is a 422. An id that is not
yours is a 404, whoever owns it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.deps import BlobsDep, CurrentOwner
from api.errors import NotFound, PayloadTooLarge, Unprocessable
from api.schemas import Problem
from generation.errors import InvalidGenerationRequest
from generation.reference_files import ReferenceFiles, ReferenceTooLarge, StoredReference
from generation.reference_ids import REFERENCE_ID_PATTERN

UPLOAD_PATH = "/v1/references"
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}

router = APIRouter(
    prefix=UPLOAD_PATH,
    tags=["references"],
    responses={401: {"model": Problem}, 422: {"model": Problem}},
)
ReferenceId = Annotated[str, Path(pattern=REFERENCE_ID_PATTERN)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}


class ReferenceOut(BaseModel):
    id: str
    format: str
    bytes: int
    url: str


def _out(stored: StoredReference) -> ReferenceOut:
    return ReferenceOut(
        id=stored.id, format=stored.format, bytes=stored.bytes, url=f"{UPLOAD_PATH}/{stored.id}"
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={413: {"model": Problem}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in MEDIA_TYPES.values()
            },
        }
    },
)
async def upload_reference(request: Request, owner: CurrentOwner, blobs: BlobsDep) -> ReferenceOut:
    """Keep one image as a style reference of yours; the same image twice is one reference."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in MEDIA_TYPES.values():
        raise Unprocessable(
            f"send the image itself with Content-Type {', '.join(MEDIA_TYPES.values())} "
            f"(got {kind or 'none'})"
        )
    data = await request.body()
    try:
        stored = await run_in_threadpool(ReferenceFiles(blobs).add, owner, data)
    except ReferenceTooLarge as error:
        raise PayloadTooLarge(str(error)) from None
    except InvalidGenerationRequest as error:
        raise Unprocessable(str(error)) from None
    return _out(stored)


@router.get("")
def list_references(owner: CurrentOwner, blobs: BlobsDep) -> list[ReferenceOut]:
    """Your style references."""
    return [_out(stored) for stored in ReferenceFiles(blobs).all(owner)]


@router.get("/{reference_id}", responses={**NOT_FOUND, 200: {"content": {"image/png": {}}}})
def get_reference(reference_id: ReferenceId, owner: CurrentOwner, blobs: BlobsDep) -> Response:
    """The image of one of your references."""
    files = ReferenceFiles(blobs)
    key = files.find(owner, reference_id)
    data = blobs.get(key) if key is not None else None
    if key is None or data is None:
        raise NotFound(f"no reference {reference_id}")
    return Response(data, media_type=MEDIA_TYPES[key.rsplit(".", 1)[-1]])


@router.delete("/{reference_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
def delete_reference(reference_id: ReferenceId, owner: CurrentOwner, blobs: BlobsDep) -> Response:
    """Forget one of your references (generations that used it keep their images)."""
    if not ReferenceFiles(blobs).delete(owner, reference_id):
        raise NotFound(f"no reference {reference_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
