"""LoRAs in a PNG's text chunks: written so AUTOMATIC1111 finds the same files, read back so
``--from-png`` can say which file is missing or differs (docs/design.md, "Images that
reproduce").

tastemaker's own ``tastemaker:settings`` chunk already names each LoRA and its weight;
``tastemaker:lora_hashes`` adds each file's A1111 short hash. A1111's ``parameters`` get the
``<lora:name:weight>`` tags in the prompt, as A1111 writes them, and ``Lora hashes: "name: hash,
…"``, the field A1111 (and Civitai) read to find the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from generation.lora_files import SHORT_HASH, LoraFile

LORA_HASHES_CHUNK = "tastemaker:lora_hashes"
LORA_HASHES_FIELD = "Lora hashes"
_ENTRY = re.compile(rf"^\s*(.+?)\s*:\s*([0-9a-fA-F]{{{SHORT_HASH}}})\s*$")


def lora_chunks(files: Iterable[LoraFile]) -> dict[str, str]:
    """The ``tastemaker:lora_hashes`` chunk for the files applied (none: no chunk)."""
    hashes = {lora.name: lora.short_hash for lora in files}
    return {LORA_HASHES_CHUNK: json.dumps(hashes)} if hashes else {}


def recorded_hashes(metadata: dict[str, str]) -> dict[str, str]:
    """``{name: short hash}`` from tastemaker's chunk ({} when absent or damaged)."""
    try:
        found = json.loads(metadata.get(LORA_HASHES_CHUNK) or "{}")
        return {str(name): str(digest) for name, digest in found.items()}
    except (ValueError, AttributeError):
        return {}


def a1111_loras(metadata: dict[str, str]) -> tuple[str, str | None]:
    """The ``<lora:…>`` tags for A1111's prompt and its ``Lora hashes`` value, from the
    settings chunk (names, weights) and the hashes chunk."""
    try:
        settings = json.loads(metadata.get("tastemaker:settings") or "{}")
        loras = [(str(x["name"]), float(x["weight"])) for x in settings.get("loras") or []]
    except (ValueError, TypeError, KeyError, AttributeError):
        return "", None
    hashes = recorded_hashes(metadata)
    tags = " ".join(f"<lora:{name}:{weight:g}>" for name, weight in loras)
    field = ", ".join(f"{name}: {hashes[name]}" for name, _ in loras if name in hashes)
    return tags, field or None


def parse_lora_hashes(value: str) -> dict[str, str]:
    """A1111's ``Lora hashes`` value (``"name: hash, name: hash"``) as ``{name: hash}``;
    entries that are not a name and a 12-digit hash are skipped."""
    found: dict[str, str] = {}
    for entry in value.split(","):
        match = _ENTRY.match(entry)
        if match:
            found[match.group(1)] = match.group(2).lower()
    return found


def describe_differences(recorded: dict[str, str], files: Iterable[LoraFile]) -> list[str]:
    """Notes for files found here whose hash differs from the one the image recorded (the
    same name, another file: the pixels will differ)."""
    return [
        f"LoRA {lora.name} here (hash {lora.short_hash}) is not the file the image was made with "
        f"(hash {recorded[lora.name]}): the result will differ"
        for lora in files
        if lora.name in recorded and recorded[lora.name] != lora.short_hash
    ]
