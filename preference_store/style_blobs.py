"""The one check of a stored style token: its blob is what its record says, and usable.

Every way a token comes in (training, ``style import``, a profile import over the CLI or
HTTP) stores it through ``StyleStore.add``, which runs this; generation runs it again on what
it loads, so a token stored before the check existed is skipped rather than failing the job.
The blob is read here without torch: a safetensors file is an 8-byte header length, a JSON
header naming each tensor's dtype, shape and byte range, then the bytes; a header that lies
about the bytes, a pickle or garbage all fail the same way.
"""

from __future__ import annotations

import json
import re
import struct
from typing import Any

import numpy as np

from preference_store.errors import InvalidImport

MAX_BLOB_BYTES = 4 * 1024 * 1024
MAX_TOKEN_VECTORS = 75  # a CLIP window of 77 less its start and end markers
MAX_ENCODER_WIDTH = 2048  # wider than any CLIP text encoder Stable Diffusion uses (1280)
MAX_HEADER_BYTES = 64 * 1024
# The text-encoder families: SD 1.x/2.x one encoder, SDXL the clip_l/clip_g pair.
FAMILY_PATTERN = r"^clip_l:[1-9][0-9]{0,3}(\+clip_g:[1-9][0-9]{0,3})?$"


def family_widths(family: str) -> dict[str, int]:
    """``{"clip_l": 768, "clip_g": 1280}`` for ``clip_l:768+clip_g:1280``."""
    if not re.fullmatch(FAMILY_PATTERN, family):
        raise InvalidImport(f"family {family[:40]!r} is not 'clip_l:<width>[+clip_g:<width>]'")
    widths = {key: int(width) for key, width in (part.split(":") for part in family.split("+"))}
    if max(widths.values()) > MAX_ENCODER_WIDTH:
        raise InvalidImport(f"family {family!r}: encoders are at most {MAX_ENCODER_WIDTH} wide")
    return widths


def check_token_blob(blob: bytes, family: str) -> int:
    """The number of vectors K in ``blob``; InvalidImport (one line) unless it is a safetensors
    file of exactly the family's encoders, each float32 [K, width], 1 ≤ K ≤ 75, all finite."""
    widths = family_widths(family)
    if not 8 < len(blob) <= MAX_BLOB_BYTES:
        raise InvalidImport(f"a token's vectors are 9 to {MAX_BLOB_BYTES} bytes, not {len(blob)}")
    (size,) = struct.unpack("<Q", blob[:8])
    if size > min(MAX_HEADER_BYTES, len(blob) - 8):
        raise InvalidImport("the token's vectors are not a safetensors file (header size)")
    try:
        header = json.loads(blob[8 : 8 + size])
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidImport("the token's vectors are not a safetensors file (header)") from None
    if not isinstance(header, dict):
        raise InvalidImport("the token's vectors are not a safetensors file (header)")
    header.pop("__metadata__", None)
    if set(header) != set(widths):
        found = ", ".join(sorted(str(k)[:20] for k in header)[:4]) or "nothing"
        needs = ", ".join(widths)
        raise InvalidImport(f"the token holds {found}; its family {family} needs {needs}")
    data = memoryview(blob)[8 + size :]
    counts = set()
    end = 0
    for key, (start, stop) in sorted(
        ((k, _byte_range(header[k], k, w, data.nbytes)) for k, w in widths.items()),
        key=lambda item: item[1],
    ):
        if start != end:
            raise InvalidImport(f"the token's {key} bytes are not where its header says")
        end = stop
        matrix = np.frombuffer(data[start:stop], dtype="<f4")
        if not np.isfinite(matrix).all():
            raise InvalidImport(f"the token's {key} vectors hold NaN or infinity")
        counts.add(matrix.size // widths[key])
    if end != data.nbytes:
        raise InvalidImport("the token's vectors are followed by bytes its header does not name")
    if len(counts) != 1:
        raise InvalidImport("the token's clip_l and clip_g hold different numbers of vectors")
    return counts.pop()


def _byte_range(entry: Any, key: str, width: int, available: int) -> tuple[int, int]:
    """Where ``key``'s float32 [K, width] bytes are, checked against its shape."""
    if not isinstance(entry, dict) or entry.get("dtype") != "F32":
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        raise InvalidImport(f"the token's {key} vectors are {str(dtype)[:10]}, not float32 (F32)")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not (
        isinstance(shape, list)
        and len(shape) == 2
        and all(type(n) is int for n in shape)
        and 1 <= shape[0] <= MAX_TOKEN_VECTORS
        and shape[1] == width
    ):
        described = (
            f"{len(shape)} dimensions" if isinstance(shape, list) and len(shape) > 4 else shape
        )
        raise InvalidImport(
            f"the token's {key} vectors have shape {str(described)[:60]}; "
            f"expected [K, {width}] with 1 ≤ K ≤ {MAX_TOKEN_VECTORS}"
        )
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(type(n) is int for n in offsets)
        and 0 <= offsets[0] <= offsets[1] <= available
        and offsets[1] - offsets[0] == shape[0] * width * 4
    ):
        raise InvalidImport(f"the token's {key} bytes are not where its header says")
    return offsets[0], offsets[1]
