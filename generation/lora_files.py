"""LoRA files: found by name in one folder (or given by path on the command line), checked
before anything loads them, and hashed as AUTOMATIC1111 hashes them (docs/design.md, "LoRAs").

Only ``.safetensors`` files are read (a pickle can run code when loaded). A file is checked in
stages, each with one sentence when it fails: its size against a cap, its header through the
``safetensors`` library (which refuses offsets outside the file, overlapping tensors and
oversized headers), its tensor names (LoRA layers, not a checkpoint) and dtypes (floating
point); the tensors themselves must be finite when loaded (``read_lora``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from generation.errors import InvalidGenerationRequest
from generation.lora_names import LORA_SUFFIX, LoraWeight, lora_weight

if TYPE_CHECKING:
    from torch import Tensor

    from generation.settings import GenerationSettings

DEFAULT_MAX_LORA_BYTES = 1024 * 1024 * 1024
"""A LoRA is 10–300 MB (rank 128 on SDXL ≈ 900 MB); bigger is a checkpoint or a mistake."""
MAX_INDEXED_FILES = 10_000
"""Files a LoRA folder is searched through at most (a folder of models, not a whole disk)."""
SHORT_HASH = 12  # A1111's ``Lora hashes`` entries: the first 12 hex digits
_FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Layer names of a LoRA in the formats diffusers reads: kohya/A1111 (lora_down/lora_up/alpha),
# diffusers and peft (lora_A/lora_B, lora.down/lora.up, lora_linear_layer).
_LORA_KEY = re.compile(r"lora[._](down|up|A|B)\b|lora_linear_layer|\.alpha$|lora_(down|up)\.")


class LoraFileError(InvalidGenerationRequest):
    """A LoRA name that finds no file, or a file that is not a usable LoRA."""


@dataclass(frozen=True)
class LoraFile:
    """A checked LoRA file: its name (the stem), where it is and A1111's short hash."""

    name: str
    path: Path
    short_hash: str  # what A1111 writes in ``Lora hashes`` for this file
    size: int
    mtime_ns: int


def inspect_lora(
    path: Path, *, name: str | None = None, max_bytes: int = DEFAULT_MAX_LORA_BYTES
) -> LoraFile:
    """The checked file (``LoraFileError`` saying what is wrong); cached per size and mtime,
    so a file is read and hashed once per process until it changes."""
    label = name or path.stem
    if path.suffix.lower() != LORA_SUFFIX:
        raise LoraFileError(
            f"LoRA {label}: {path.name} is not a .safetensors file (pickled .pt/.ckpt files are "
            "never loaded: they can run code)"
        )
    try:
        stat = path.stat()
    except OSError:
        raise LoraFileError(f"LoRA {label}: {path} does not exist") from None
    if not path.is_file():
        raise LoraFileError(f"LoRA {label}: {path} is not a file")
    if stat.st_size > max_bytes:
        raise LoraFileError(
            f"LoRA {label}: {path.name} is {stat.st_size / 2**20:.0f} MB; at most "
            f"{max_bytes / 2**20:.0f} MB is accepted (a LoRA is 10–300 MB)"
        )
    return _inspect(str(path), label, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=256)
def _inspect(path: str, name: str, size: int, mtime_ns: int) -> LoraFile:
    header, metadata = _header(Path(path), name, size)
    _check_tensors(header, name)
    own = str(metadata.get("sshs_model_hash", "")).lower()
    digest = own if _HEX64.match(own) else addnet_hash(Path(path))  # A1111 prefers the file's own
    return LoraFile(name, Path(path), digest[:SHORT_HASH], size, mtime_ns)


def _header(
    path: Path, name: str, size: int
) -> tuple[dict[str, dict[str, object]], dict[str, str]]:
    """The tensor table and metadata, read and validated by ``safetensors`` (numpy: no torch)."""
    from safetensors import SafetensorError, safe_open

    if size < 8:
        raise LoraFileError(f"LoRA {name}: {path.name} is too short to be a safetensors file")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = dict(handle.metadata() or {})
            keys = list(handle.keys())
        with path.open("rb") as file:  # validated above: the header is JSON within the file
            length = int.from_bytes(file.read(8), "little")
            table = json.loads(file.read(length))
    except (SafetensorError, OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise LoraFileError(
            f"LoRA {name}: {path.name} is not a valid safetensors file ({reason})"
        ) from None
    table.pop("__metadata__", None)
    if set(table) != set(keys):
        raise LoraFileError(f"LoRA {name}: {path.name} has a damaged header")
    return table, metadata


def _check_tensors(table: Mapping[str, Mapping[str, object]], name: str) -> None:
    if not table:
        raise LoraFileError(f"LoRA {name}: the file holds no tensors")
    strange = [key for key in table if not _LORA_KEY.search(key)]
    if strange:
        looks = "a full model checkpoint" if any("model." in k for k in strange) else "not a LoRA"
        raise LoraFileError(
            f"LoRA {name}: {len(strange)} of its {len(table)} tensors are not LoRA layers "
            f"(e.g. {strange[0]!r}); this looks like {looks}"
        )
    # A scalar alpha may be stored as an integer (diffusers' own kohya conversion does).
    dtypes = {
        str(entry.get("dtype"))
        for key, entry in table.items()
        if not (key.endswith(".alpha") and entry.get("shape") in ([], [1]))
    }
    if not dtypes <= _FLOAT_DTYPES:
        raise LoraFileError(
            f"LoRA {name}: tensors of type {', '.join(sorted(dtypes - _FLOAT_DTYPES))}; "
            "LoRA weights are floating point"
        )


def addnet_hash(path: Path) -> str:
    """sha256 of the tensor data after the header: the hash kohya's sd-scripts and A1111 give
    a ``.safetensors`` LoRA (so editing its metadata does not change it)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        length = int.from_bytes(file.read(8), "little")
        file.seek(8 + length)
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_lora(lora: LoraFile) -> dict[str, Tensor]:
    """The tensors of a checked file, refused when any is NaN or infinite (such a LoRA turns
    every image black) or when the file changed since it was checked."""
    import torch
    from safetensors.torch import load_file

    again = inspect_lora(lora.path, name=lora.name, max_bytes=max(lora.size, 1))
    if again != lora:
        raise LoraFileError(f"LoRA {lora.name}: {lora.path.name} changed while in use; try again")
    tensors = load_file(lora.path)
    for key, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise LoraFileError(f"LoRA {lora.name}: tensor {key!r} holds NaN or infinite values")
    return tensors


class LoraLibrary:
    """Where LoRA names are looked up: files given by path (the CLI's ``--lora FILE``), then one
    folder and its subfolders (``TASTEMAKER_LORA_DIR``), by file stem as A1111 does.

    A name is matched against the folder's listing, never joined into a path, and the file it
    finds must lie inside the folder once links are resolved: over HTTP, a name reads only
    files an administrator put there.
    """

    def __init__(
        self,
        folder: Path | None,
        *,
        files: Mapping[str, Path] | None = None,
        max_bytes: int = DEFAULT_MAX_LORA_BYTES,
        where: str = "the LoRA folder",
    ) -> None:
        self.folder = folder
        self.files = dict(files or {})
        self.max_bytes = max_bytes
        self.where = where

    def names(self) -> list[str]:
        """Every name this library answers to (given files first, then the folder's, sorted)."""
        return [*self.files, *sorted(n for n in self._index() if n not in self.files)]

    def find(self, name: str) -> LoraFile:
        """The checked file ``name`` stands for; ``LoraFileError`` when there is none."""
        lora_weight(name)  # a name that could not be a file stem is refused as such
        if name in self.files:
            return inspect_lora(self.files[name], name=name, max_bytes=self.max_bytes)
        matches = self._index().get(name, [])
        if not matches:
            raise LoraFileError(self._missing(name))
        if len(matches) > 1:
            root = self.folder.resolve() if self.folder else Path("/")
            found = ", ".join(str(p.relative_to(root)) for p in matches)
            raise LoraFileError(f"LoRA {name} is ambiguous in {self.where}: {found}; rename one")
        return inspect_lora(matches[0], name=name, max_bytes=self.max_bytes)

    def resolve(self, loras: Iterable[LoraWeight]) -> tuple[LoraFile, ...]:
        return tuple(self.find(lora.name) for lora in loras)

    def _missing(self, name: str) -> str:
        if self.folder is None:
            return f"no LoRA named {name!r}: no LoRA folder is set ({self.where})"
        return f"no LoRA named {name!r} in {self.where}"

    def _index(self) -> dict[str, list[Path]]:
        if self.folder is None or not self.folder.is_dir():
            return {}
        root = self.folder.resolve()
        index: dict[str, list[Path]] = {}
        seen = 0
        for parent, folders, files in os.walk(root, followlinks=False):
            folders.sort()
            for file in sorted(files):
                seen += 1
                if seen > MAX_INDEXED_FILES:
                    return index
                path = Path(parent) / file
                if path.suffix.lower() != LORA_SUFFIX:
                    continue
                if not path.resolve().is_relative_to(root):  # a link out of the folder
                    continue
                index.setdefault(path.stem, []).append(path)
        return index


def lora_files(library: LoraLibrary | None, settings: GenerationSettings) -> tuple[LoraFile, ...]:
    """The checked files of the LoRAs ``settings`` names (none named: none needed)."""
    if not settings.loras:
        return ()
    if library is None:
        names = ", ".join(lora.name for lora in settings.loras)
        raise LoraFileError(f"LoRA {names} was asked for, but no LoRA folder is set here")
    return library.resolve(settings.loras)
