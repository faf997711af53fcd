"""Which weights made an image, written so that the image can be made again (docs/design.md,
"Images that reproduce").

- A single-file checkpoint: A1111's short hash, the first 10 hex digits of the file's sha256,
  so A1111 picks the same checkpoint from a pasted ``parameters`` text.
- A hub id: its snapshot's commit (``Model revision``); hub revisions never change, so the
  id and revision pin the weights without reading gigabytes.
- A local diffusers folder: tastemaker's own hash (A1111 loads no folders): the sha256 over
  ``model_index.json`` and every weight file's path and sha256, first 10 hex digits.
- ``tiny`` / ``tiny-sdxl`` (weights built in code): the same hash over the weights in memory.

Hashing reads the whole model once per process (seconds for a multi-GB checkpoint, as A1111's
first hash does); the result is kept per file size and modification time.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generation.hub import HUB_ID, cached_snapshot

if TYPE_CHECKING:
    from generation.generator import PersonalizedGenerator
    from generation.result import GenerationResult
    from generation.style_library import UsableTokens

SHORT_HASH = 10  # A1111's "Model hash": sha256[:10]
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelIdentity:
    """``name`` as A1111 shows a model, ``hash`` (short sha256) and/or ``revision``."""

    name: str
    hash: str = ""
    revision: str = ""


_known: weakref.WeakKeyDictionary[Any, ModelIdentity] = weakref.WeakKeyDictionary()


def model_identity(generator: PersonalizedGenerator) -> ModelIdentity:
    """The identity of ``generator``'s weights, worked out once per generator."""
    found = _known.get(generator)
    if found is None:
        found = identify(generator.model_name, generator.pipeline)
        _known[generator] = found
    return found


def identify(name: str, pipeline: Any) -> ModelIdentity:
    path = Path(name).expanduser()
    if path.is_file():
        return ModelIdentity(path.stem, _file_hash(path)[:SHORT_HASH])
    if path.is_dir():
        return ModelIdentity(path.name, _folder_hash(path))
    if HUB_ID.match(name):
        snapshot = cached_snapshot(name)
        return ModelIdentity(name, revision=snapshot.name if snapshot is not None else "")
    return ModelIdentity(name, _weights_hash(pipeline))


def _file_hash(path: Path) -> str:
    stat = path.stat()
    return _sha256_file(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _sha256_file(path: str, _size: int, _mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _folder_hash(folder: Path) -> str:
    weights = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    files = [folder / "model_index.json", *weights]
    digest = hashlib.sha256()
    for file in files:
        if file.is_file():
            digest.update(file.relative_to(folder).as_posix().encode())
            digest.update(_file_hash(file).encode())
    return digest.hexdigest()[:SHORT_HASH]


def _weights_hash(pipeline: Any) -> str:
    """The weights in memory (a model built in code has no file to hash)."""
    import torch

    digest = hashlib.sha256()
    for component, module in sorted(getattr(pipeline, "components", {}).items()):
        if not isinstance(module, torch.nn.Module):
            continue
        for key, tensor in sorted(module.state_dict().items()):
            digest.update(f"{component}.{key}".encode())
            digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:SHORT_HASH]


def ti_hash(vectors: dict[str, Any], name: str) -> str:
    """A1111's ``TI hashes`` entry for a style token: the first 12 hex digits of the sha256 of
    the file ``tastemaker style export --format a1111 --out NAME.safetensors`` writes."""
    from generation.style_formats import export_token

    data = export_token(vectors, name=name, fmt="a1111", suffix=".safetensors")
    return hashlib.sha256(data).hexdigest()[:12]


TORCH_THREADS_CHUNK = "tastemaker:torch_threads"
MAX_TORCH_THREADS = 256  # the most torch CPU threads a setting or a PNG may name


def provenance(
    generator: PersonalizedGenerator,
    result: GenerationResult,
    tokens: UsableTokens | None,
    profile_version: int,
) -> dict[str, str]:
    """PNG chunks that pin what made an image beyond its settings: the model's hash or
    revision, the A1111 hashes of the style tokens applied and the profile version
    (``png.a1111_parameters`` writes them for A1111; ``generate --from-png`` reads them)."""
    import torch

    identity = model_identity(generator)
    chunks = {
        "tastemaker:model_name": identity.name,
        "tastemaker:model_hash": identity.hash,
        "tastemaker:model_revision": identity.revision,
        "tastemaker:profile_version": str(profile_version),
        # CPU kernels split work by thread count, so pixels can differ by 1/255 between counts:
        # --from-png uses the same count (docs/design.md, "Reproducible PNGs").
        TORCH_THREADS_CHUNK: str(torch.get_num_threads()),
    }
    applied = {
        "style": tokens.style if tokens and result.plan.style_token else None,
        "negative": tokens.negative if tokens and result.plan.negative_style_token else None,
    }
    hashes = {
        role: [token.name, ti_hash(token.vectors, token.name)]
        for role, token in applied.items()
        if token is not None
    }
    if hashes:
        chunks["tastemaker:ti_hashes"] = json.dumps(hashes)
    return {key: value for key, value in chunks.items() if value}
