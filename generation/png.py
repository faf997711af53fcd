"""PNG files that say how they were made: prompt, seed, settings and the attributes applied.

Two kinds of text chunk: ``tastemaker:*`` (the whole plan, for tastemaker) and A1111's
``parameters`` (prompt, negative prompt, steps, sampler, CFG scale, seed, size, model), which
AUTOMATIC1111, ComfyUI and image browsers read, show and re-use.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

PARAMETERS_KEY = "parameters"
PROMPT_CHUNK = "tastemaker:prompt"  # the prompt as the person wrote it
INIT_IMAGE_CHUNK = "tastemaker:init_image"  # img2img: its init image's reference id

# diffusers scheduler classes by the names A1111 gives the same samplers.
A1111_SAMPLERS = {
    "EulerAncestralDiscreteScheduler": "Euler a",
    "EulerDiscreteScheduler": "Euler",
    "DPMSolverMultistepScheduler": "DPM++ 2M",
    "DPMSolverSinglestepScheduler": "DPM++ SDE",
    "KDPM2DiscreteScheduler": "DPM2",
    "KDPM2AncestralDiscreteScheduler": "DPM2 a",
    "HeunDiscreteScheduler": "Heun",
    "LMSDiscreteScheduler": "LMS",
    "DDIMScheduler": "DDIM",
    "PNDMScheduler": "PLMS",
    "UniPCMultistepScheduler": "UniPC",
}


def _a1111_value(value: str) -> str:
    """A1111 quotes a value holding its separators (``,`` ``:``) as a JSON string."""
    return json.dumps(value) if any(c in value for c in ',:"\n') else value


def _ip_adapter(refs: str | None) -> str | None:
    """The style references' adapter, weight, mode and image count (issue 23), when applied."""
    found = json.loads(refs) if refs else None
    if not found or not found.get("applied"):
        return None
    count = len(found["images"])
    return (
        f"{found['adapter']} (weight {found['scale']:g}, {found['mode']}, {count} reference"
        f"{'s' if count != 1 else ''})"
    )


def a1111_parameters(metadata: dict[str, str], size: tuple[int, int]) -> str | None:
    """A1111's ``parameters`` text from tastemaker's chunks; None when they are not there.

    The prompt is the person's prompt with the style token named where the plan put it, as
    A1111 writes an embedding; the attributes applied act through the embeddings, not the
    text, so they are recorded as ``tastemaker liked/disliked`` entries after the others.
    """
    from generation.lora_infotext import LORA_HASHES_FIELD, a1111_loras
    from generation.style_inject import STYLE_MARKER

    prompt = metadata.get(PROMPT_CHUNK)
    if prompt is None:
        return None
    settings = json.loads(metadata.get("tastemaker:settings") or "{}")
    scheduler = metadata.get("tastemaker:scheduler", "")
    tokens = _ti_tokens(metadata)
    plan = json.loads(metadata.get("tastemaker:plan") or "{}")
    if "style" in tokens and plan.get("style_prompt"):
        prompt = plan["style_prompt"].replace(STYLE_MARKER, tokens["style"][0])
    negative = metadata.get("tastemaker:negative_prompt")
    if "negative" in tokens and plan.get("negative_style_prompt"):
        negative = plan["negative_style_prompt"].replace(STYLE_MARKER, tokens["negative"][0])
    rescale = settings.get("cfg_rescale") or None
    lora_tags, lora_hashes = a1111_loras(metadata)
    if lora_tags:  # where A1111 users type them; A1111 takes them out of the text again
        prompt = f"{prompt} {lora_tags}"
    fields = {
        "Steps": settings.get("steps"),
        "Sampler": settings.get("sampler") or A1111_SAMPLERS.get(scheduler, scheduler) or None,
        "CFG scale": settings.get("guidance_scale"),
        "CFG Rescale φ": rescale,  # the name A1111's CFG-rescale extension writes
        "Seed": metadata.get("tastemaker:seed"),
        "Size": f"{size[0]}x{size[1]}",
        "Model hash": metadata.get("tastemaker:model_hash") or None,
        "Model": metadata.get("tastemaker:model_name") or metadata.get("tastemaker:model") or None,
        "Model revision": metadata.get("tastemaker:model_revision") or None,
        "Denoising strength": settings.get("strength"),  # img2img, as A1111 writes it
        "TI hashes": ", ".join(f"{name}: {digest}" for name, digest in tokens.values()) or None,
        LORA_HASHES_FIELD: lora_hashes,
        "tastemaker liked": metadata.get("tastemaker:liked_applied") or None,
        "tastemaker disliked": metadata.get("tastemaker:disliked_applied") or None,
        "IP-Adapter": _ip_adapter(metadata.get("tastemaker:style_refs")),
        "tastemaker PALP": _palp(metadata.get("tastemaker:palp")),
    }
    line = ", ".join(
        f"{key}: {_a1111_value(str(value))}" for key, value in fields.items() if value is not None
    )
    lines = [prompt]
    if negative:
        lines.append(f"Negative prompt: {negative}")
    lines.append(line)
    return "\n".join(lines)


def _palp(chunk: str | None) -> str | None:
    """The PALP adapter's training, for people reading the parameters (A1111 cannot make it)."""
    if not chunk:
        return None
    try:
        palp = json.loads(chunk)
        return (
            f"{palp['steps']} steps, rank {palp['rank']}, lr {palp['learning_rate']}, "
            f"alpha {palp['alpha']}, beta {palp['beta']}"
        )
    except (ValueError, TypeError, KeyError):
        return None


def _ti_tokens(metadata: dict[str, str]) -> dict[str, tuple[str, str]]:
    """``{"style" | "negative": (name, hash)}`` from the ``tastemaker:ti_hashes`` chunk."""
    try:
        found = json.loads(metadata.get("tastemaker:ti_hashes") or "{}")
        return {role: (str(pair[0]), str(pair[1])) for role, pair in found.items()}
    except (ValueError, TypeError, IndexError, AttributeError):
        return {}


def _info(metadata: dict[str, str], size: tuple[int, int]) -> PngInfo:
    """One PNG text chunk per metadata entry, plus A1111's ``parameters`` chunk when the
    metadata is a generation's."""
    info = PngInfo()
    for key, value in metadata.items():
        info.add_itxt(key, value)
    parameters = a1111_parameters(metadata, size)
    if parameters is not None and PARAMETERS_KEY not in metadata:
        info.add_text(PARAMETERS_KEY, parameters)  # tEXt: what A1111 writes and reads
    return info


def save_png(image: Image.Image, path: Path, metadata: dict[str, str]) -> Path:
    """Write ``image`` with its metadata chunks (``_info``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", pnginfo=_info(metadata, image.size))
    return path


def png_bytes(image: Image.Image, metadata: dict[str, str]) -> bytes:
    """``image`` as PNG bytes with the same text chunks as ``save_png`` (for a blob store)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=_info(metadata, image.size))
    return buffer.getvalue()


def read_png_metadata(path: Path) -> dict[str, str]:
    with Image.open(path) as image:
        image.load()
        return {str(k): str(v) for k, v in getattr(image, "text", {}).items()}
