"""``tastemaker style export --palp IMAGE.png --out NAME.safetensors``: the PALP adapter that
made an image, as a LoRA file AUTOMATIC1111 and ComfyUI load (``generation.lora_export``)."""

from __future__ import annotations

from pathlib import Path

from api.settings import Settings
from generation.errors import InvalidGenerationRequest
from generation.infotext import png_text
from generation.lora_export import PALP_ADAPTER_CHUNK, palp_lora_bytes
from generation.palp_adapters import AdapterCache
from generation.png import PROMPT_CHUNK


def export_palp(settings: Settings, image: Path, out: Path) -> int:
    """Write the adapter ``image`` names to ``out``; returns its rank. A one-sentence
    ``GenerationError`` when the image has no adapter or it has left the cache."""
    if out.suffix != ".safetensors":
        raise InvalidGenerationRequest("a LoRA is written as .safetensors: --out NAME.safetensors")
    chunks = png_text(image)
    key = chunks.get(PALP_ADAPTER_CHUNK, "")
    if not key.isalnum():
        raise InvalidGenerationRequest(
            f"{image} was not made with PALP (`generate --mode palp`), or with 0 PALP steps: "
            "it names no adapter"
        )
    cache = AdapterCache(settings.palp_cache_dir, max_bytes=settings.palp_cache_mb * 2**20)
    found = cache.get(key)
    if found is None:
        raise InvalidGenerationRequest(
            f"the adapter of {image} is no longer in the PALP cache: run `tastemaker generate "
            f"--from-png {image}` to train it again, then export"
        )
    weights, rank = found
    prompt = chunks.get(PROMPT_CHUNK, "")
    data = palp_lora_bytes(weights, rank=rank, name=out.stem, prompt=prompt)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return rank
