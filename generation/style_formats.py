"""Style-token files as other tools write and read them, checked against the target model.

- diffusers ``learned_embeds.safetensors``: ``{token: Tensor[K, D]}``; SDXL: ``{"clip_l": [K, 768],
  "clip_g": [K, 1280]}`` (what ``pipe.load_textual_inversion`` reads — the tests use it as judge);
- A1111 ``.pt``: ``{"string_to_token": {"*": 265}, "string_to_param": {"*": T}, "name": ...,
  "step": ...}``; A1111 ``.safetensors`` (a flat file cannot hold that dict): ``{"emb_params": T}``,
  which A1111, ComfyUI and diffusers all read; SDXL files are the ``clip_l``/``clip_g`` pair.

``.pt`` files are read with ``torch.load(weights_only=True)``: a pickled embedding from the
internet must not run code. Every problem is one ``InvalidStyleFile`` line.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor

from generation.encoding import PipelineTextEncoder, SDPipeline
from generation.errors import GenerationError
from generation.style_inject import encoder_keys
from preference_store.style_blobs import MAX_TOKEN_VECTORS as MAX_VECTORS

FORMATS: tuple[str, ...] = ("diffusers", "a1111")
A1111_PLACEHOLDER_ID = 265  # the id A1111 records for "*" in string_to_token


class InvalidStyleFile(GenerationError):
    """A token file that is corrupt, of an unknown layout, or for another model."""


def encoder_widths(pipeline: SDPipeline) -> dict[str, int]:
    """``{"clip_l": 768}`` for SD 1.x, ``{"clip_l": 768, "clip_g": 1280}`` for SDXL."""
    encoders = PipelineTextEncoder(pipeline).encoders
    return {
        key: int(encoder.get_input_embeddings().weight.shape[1])
        for key, encoder in zip(encoder_keys(encoders), encoders, strict=True)
    }


def family(widths: dict[str, int]) -> str:
    """The text-encoder family a token is for, e.g. ``clip_l:768+clip_g:1280``."""
    return "+".join(f"{key}:{width}" for key, width in widths.items())


# -- our own blob (what the store keeps) -----------------------------------------------------


def to_blob(vectors: dict[str, Tensor]) -> bytes:
    return save_safetensors({k: v.detach().float().contiguous().cpu() for k, v in vectors.items()})


def from_blob(blob: bytes) -> dict[str, Tensor]:
    return dict(load_safetensors(blob))


# -- export -------------------------------------------------------------------------------------


def export_token(
    vectors: dict[str, Tensor], *, name: str, fmt: str, suffix: str = ".safetensors", step: int = 0
) -> bytes:
    """The file's bytes in ``fmt`` ("diffusers" or "a1111"); A1111 SD 1.x as .pt or .safetensors."""
    vectors = {k: v.detach().float().contiguous().cpu() for k, v in vectors.items()}
    pair = set(vectors) == {"clip_l", "clip_g"}
    if fmt not in FORMATS:
        raise InvalidStyleFile(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if pair:  # SDXL: the same pair in both tools
        if suffix == ".pt":
            buffer = io.BytesIO()
            torch.save(vectors, buffer)
            return buffer.getvalue()
        return save_safetensors(vectors)
    (tensor,) = vectors.values()
    if fmt == "diffusers":
        return save_safetensors({name: tensor})
    if suffix == ".pt":
        buffer = io.BytesIO()
        torch.save(
            {
                "string_to_token": {"*": A1111_PLACEHOLDER_ID},
                "string_to_param": {"*": tensor},
                "name": name,
                "step": step,
                "sd_checkpoint": None,
                "sd_checkpoint_name": None,
            },
            buffer,
        )
        return buffer.getvalue()
    return save_safetensors({"emb_params": tensor})


# -- import -------------------------------------------------------------------------------------


def read_token_file(
    data: bytes, filename: str, widths: dict[str, int]
) -> tuple[dict[str, Tensor], str]:
    """(vectors per encoder, the name the file gives) for a model with these encoder widths."""
    content = _load(data, filename)
    vectors, name = _interpret(content, filename)
    _check(vectors, widths, filename)
    return vectors, name


def _load(data: bytes, filename: str) -> Any:
    if not data:
        raise InvalidStyleFile(f"{filename}: the file is empty")
    try:
        if filename.lower().endswith(".safetensors"):
            return dict(load_safetensors(data))
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # safetensors/pickle raise many types on garbage
        if isinstance(error, pickle.UnpicklingError) and str(error).startswith("Weights only"):
            raise InvalidStyleFile(  # torch's reason is a page of advice on weights_only
                f"{filename}: not a readable .pt/.bin token file (only plain tensors are "
                "read: loading anything else could run code)"
            ) from None
        kind = "safetensors" if filename.lower().endswith(".safetensors") else ".pt/.bin"
        reason = _brief(str(error)) if str(error).strip() else type(error).__name__
        raise InvalidStyleFile(f"{filename}: not a readable {kind} token file ({reason})") from None


def _brief(text: str, limit: int = 120) -> str:
    """The first line of ``text``, cut at a word boundary with '…' when longer than ``limit``."""
    line = text.strip().splitlines()[0]
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _interpret(content: Any, filename: str) -> tuple[dict[str, Tensor], str]:
    if not isinstance(content, dict) or not content:
        raise InvalidStyleFile(f"{filename}: not a token file (expected a dict of tensors)")
    if "string_to_param" in content:  # A1111 .pt
        params = content["string_to_param"]
        if not isinstance(params, dict) or len(params) != 1:
            raise InvalidStyleFile(f"{filename}: A1111 string_to_param must hold one tensor")
        tensor = next(iter(params.values()))
        name = content.get("name") if isinstance(content.get("name"), str) else ""
        return {"clip_l": _as_matrix(tensor, filename)}, str(name)
    if "clip_l" in content or "clip_g" in content:  # SDXL pair
        if set(content) != {"clip_l", "clip_g"}:
            raise InvalidStyleFile(f"{filename}: an SDXL token file needs both clip_l and clip_g")
        return {k: _as_matrix(content[k], filename) for k in ("clip_l", "clip_g")}, ""
    if len(content) != 1:
        raise InvalidStyleFile(
            f"{filename}: {len(content)} tensors; a token file holds one "
            "(or the clip_l/clip_g pair)"
        )
    key, tensor = next(iter(content.items()))
    name = "" if key == "emb_params" else str(key)
    return {"clip_l": _as_matrix(tensor, filename)}, name


def _as_matrix(value: Any, filename: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise InvalidStyleFile(f"{filename}: expected a tensor, found {type(value).__name__}")
    tensor = value.detach().float()
    if tensor.ndim == 1:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 2 or not 1 <= tensor.shape[0] <= MAX_VECTORS:
        raise InvalidStyleFile(
            f"{filename}: vectors of shape {_shape(value)}; expected [K, D], K ≤ {MAX_VECTORS}"
        )
    if not bool(torch.isfinite(tensor).all()):
        raise InvalidStyleFile(f"{filename}: the vectors hold NaN or infinity")
    return tensor.contiguous()


def _shape(tensor: Tensor) -> str:
    """A shape for a message: ``(1, 768)``, or ``(1, 1, 1, …) (10000 dimensions)``."""
    dims = tuple(tensor.shape)
    if len(dims) <= 4:
        return str(dims)
    return f"({', '.join(map(str, dims[:3]))}, …) ({len(dims)} dimensions)"


def _check(vectors: dict[str, Tensor], widths: dict[str, int], filename: str) -> None:
    got = {key: int(v.shape[1]) for key, v in vectors.items()}
    if set(got) != set(widths):
        made_for = "SDXL (clip_l + clip_g)" if len(got) == 2 else "a one-encoder model (SD 1.x/2.x)"
        target = "SDXL" if len(widths) == 2 else "a one-encoder model (SD 1.x/2.x)"
        raise InvalidStyleFile(f"{filename}: made for {made_for}, but the model is {target}")
    for key, width in widths.items():
        if got[key] != width:
            raise InvalidStyleFile(
                f"{filename}: {key} vectors are {got[key]} wide, the model's encoder needs {width}"
            )
    counts = {int(v.shape[0]) for v in vectors.values()}
    if len(counts) != 1:
        raise InvalidStyleFile(f"{filename}: clip_l and clip_g hold different numbers of vectors")
