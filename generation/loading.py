"""Load a Stable Diffusion 1.x or SDXL pipeline (and its matching CLIP) from a name.

A name is ``tiny`` / ``tiny-sdxl`` (random tiny weights built in code), a local diffusers
folder (``model_index.json``), a single-file checkpoint (``.safetensors``/``.ckpt``, through
``from_single_file``), or a hub id (``owner/name``) already in the local cache
(``generation.hub``: loading never downloads; ``tastemaker models pull`` does). Device and dtype
are arguments (the caller reads them from settings). Every failure is a ``ModelNotFoundError``
or ``ModelLoadError`` that says what was tried; a hub id that is not cached fails at once,
naming the command to run.
Callers load once per process and share the result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

from generation.clip import ClipBundle
from generation.encoding import SDPipeline
from generation.errors import ModelLoadError, ModelNotFoundError
from generation.hub import HUB_ID, cached_variant, require_cached
from generation.ip_adapter import StyleAdapter, load_style_adapter
from generation.tiny import (
    TINY_CLIP_NAME,
    TINY_MODEL_NAME,
    TINY_SDXL_MODEL_NAME,
    TinyClip,
    build_tiny_clip,
    build_tiny_sd,
    build_tiny_sdxl,
)
from generation.tiny_ip_adapter import TINY_IP_ADAPTER_NAME
from preference_store.model_loading import one_load_at_a_time

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
PIPELINE_CLASSES: dict[str, Any] = {
    "StableDiffusionPipeline": StableDiffusionPipeline,
    "StableDiffusionXLPipeline": StableDiffusionXLPipeline,
}


@dataclass(frozen=True)
class LoadedModels:
    """A pipeline, the CLIP model matching its text encoder (if any) and what they are called."""

    pipeline: SDPipeline
    name: str
    clip: ClipBundle | None = None
    adapter: StyleAdapter | None = None  # the IP-Adapter for style references, if configured

    @property
    def is_tiny(self) -> bool:
        return self.name in (TINY_MODEL_NAME, TINY_SDXL_MODEL_NAME)

    @property
    def kind(self) -> str:
        return "sdxl" if isinstance(self.pipeline, StableDiffusionXLPipeline) else "sd1"


def resolve_dtype(dtype: str | torch.dtype, device: str) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        resolved = dtype
    elif dtype in DTYPES:
        resolved = DTYPES[dtype]
    else:
        raise ModelLoadError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    if resolved is torch.float16 and torch.device(device).type == "cpu":
        raise ModelLoadError("float16 on CPU is not supported by diffusers; use float32")
    return resolved


@one_load_at_a_time  # a load patches torch process-wide (preference_store/model_loading.py)
def load_models(
    name: str,
    *,
    device: str = "cpu",
    dtype: str | torch.dtype = "float32",
    clip_name: str | None = None,
    single_file_config: str | None = None,
    ip_adapter: str | None = None,
    ip_adapter_image_encoder: str | None = None,
) -> LoadedModels:
    """Load the pipeline ``name`` and, when given (or for ``tiny``), the matching CLIP model
    and IP-Adapter (``ip_adapter``: see ``generation.ip_adapter``; the tiny models take the
    tiny one unless it is ``none``)."""
    tiny = name in (TINY_MODEL_NAME, TINY_SDXL_MODEL_NAME)
    if ip_adapter is None and tiny:
        ip_adapter = TINY_IP_ADAPTER_NAME
    if ip_adapter == "none":
        ip_adapter = None
    if tiny:
        tiny_clip = build_tiny_clip()
        builder = build_tiny_sdxl if name == TINY_SDXL_MODEL_NAME else build_tiny_sd
        pipeline: Any = builder(clip=tiny_clip)
        pipeline.to(device)
        clip_model: Any = tiny_clip.model
        clip_model.to(device)
        adapter = (
            load_style_adapter(pipeline, ip_adapter, ip_adapter_image_encoder)
            if ip_adapter
            else None
        )
        return LoadedModels(pipeline, name, _bundle_tiny(tiny_clip), adapter)
    torch_dtype = resolve_dtype(dtype, device)
    pipeline = load_pipeline(name, torch_dtype=torch_dtype, single_file_config=single_file_config)
    pipeline.to(device)
    pipeline.set_progress_bar_config(disable=True)
    for component in pipeline.components.values():
        if isinstance(component, torch.nn.Module):
            component.requires_grad_(False).eval()
    clip = load_clip(clip_name, device=device, torch_dtype=torch_dtype) if clip_name else None
    adapter = (
        load_style_adapter(pipeline, ip_adapter, ip_adapter_image_encoder) if ip_adapter else None
    )
    return LoadedModels(pipeline, name, clip, adapter)


def _bundle_tiny(tiny: TinyClip) -> ClipBundle:
    return ClipBundle(model=tiny.model, tokenizer=tiny.tokenizer, name=TINY_CLIP_NAME)


def load_pipeline(
    name: str, *, torch_dtype: torch.dtype, single_file_config: str | None = None
) -> SDPipeline:
    """A diffusers SD 1.x / SDXL pipeline from a folder, a single file or a hub id."""
    path = Path(name).expanduser()
    if path.is_dir():
        return _from_folder(path, torch_dtype)
    if path.suffix in SINGLE_FILE_SUFFIXES or path.is_file():
        if not path.is_file():
            raise ModelNotFoundError(f"file not found: {path}")
        return _from_single_file(path, torch_dtype, single_file_config)
    if not HUB_ID.match(name):
        raise ModelNotFoundError(
            f"unknown model {name!r}: not 'tiny', not an existing folder or checkpoint file, "
            "and not a hub id of the form owner/name"
        )
    return _from_hub(name, torch_dtype)


def _from_folder(path: Path, torch_dtype: torch.dtype, what: str | None = None) -> SDPipeline:
    """A diffusers folder (or a cached hub snapshot, then ``what`` is its hub id)."""
    what = what or str(path)
    index = path / "model_index.json"
    if not index.is_file():
        raise ModelLoadError(f"{what} is not a diffusers pipeline (no model_index.json)")
    try:
        class_name = json.loads(index.read_text()).get("_class_name", "")
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise ModelLoadError(f"cannot read {index}: {exc}") from exc
    cls = PIPELINE_CLASSES.get(class_name)
    if cls is None:
        raise ModelLoadError(
            f"{what} holds a {class_name or 'unknown'} pipeline; tastemaker supports "
            "Stable Diffusion 1.x and SDXL text-to-image pipelines"
        )
    try:
        return cls.from_pretrained(
            path, dtype=torch_dtype, local_files_only=True, variant=cached_variant(path)
        )
    except Exception as exc:  # diffusers raises many types for a broken folder
        raise ModelLoadError(f"cannot load the pipeline {what}: {exc}") from exc


def _single_file_class(path: Path) -> Any:
    """SDXL checkpoints carry a second text encoder under ``conditioner.embedders.1``."""
    if path.suffix != ".safetensors":
        return StableDiffusionPipeline
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            keys = list(handle.keys())
    except Exception as exc:  # safetensors raises its own error type for a bad header
        raise ModelLoadError(f"{path} is not a readable .safetensors checkpoint: {exc}") from exc
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return StableDiffusionXLPipeline
    if not any(k.startswith("model.diffusion_model.") for k in keys):
        raise ModelLoadError(f"{path} does not look like a Stable Diffusion checkpoint")
    return StableDiffusionPipeline


def _from_single_file(path: Path, torch_dtype: torch.dtype, config: str | None) -> SDPipeline:
    cls = _single_file_class(path)
    kwargs: dict[str, object] = {"dtype": torch_dtype}
    if config is not None:
        kwargs["config"] = config
    if _offline():
        kwargs["local_files_only"] = True
    try:
        return cls.from_single_file(str(path), **kwargs)
    except Exception as exc:
        hint = (
            " (offline, a single-file checkpoint needs the diffusers config folder of the "
            "same model family)"
            if _offline() and config is None
            else ""
        )
        raise ModelLoadError(f"cannot load checkpoint {path}: {exc}{hint}") from exc


def _offline() -> bool:
    """huggingface_hub's own reading of HF_HUB_OFFLINE (it is that library's switch)."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _from_hub(repo_id: str, torch_dtype: torch.dtype) -> SDPipeline:
    """A hub id from the local cache only (a download is asked for with ``models pull``)."""
    return _from_folder(require_cached(repo_id), torch_dtype, what=repo_id)


@one_load_at_a_time
def load_clip(
    name: str, *, device: str = "cpu", torch_dtype: torch.dtype = torch.float32
) -> ClipBundle:
    """A CLIP model (hub id or folder) with its tokenizer, checked to have a real vocabulary."""
    from transformers import CLIPModel, CLIPTokenizer

    if name == TINY_CLIP_NAME:
        return _bundle_tiny(build_tiny_clip())
    folder = Path(name).expanduser()
    if not folder.is_dir():
        if not HUB_ID.match(name):
            raise ModelNotFoundError(f"CLIP model {name!r}: not a folder nor a hub id owner/name")
        folder = require_cached(name)
    try:
        model = CLIPModel.from_pretrained(folder, dtype=torch_dtype, local_files_only=True).eval()
        tokenizer = CLIPTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as exc:
        raise ModelNotFoundError(f"cannot load CLIP model {name!r}: {exc}") from exc
    if len(tokenizer) != model.config.text_config.vocab_size:  # offline from_pretrained pitfall
        raise ModelLoadError(
            f"CLIP tokenizer for {name!r} has {len(tokenizer)} tokens, the model expects "
            f"{model.config.text_config.vocab_size}: the tokenizer files are missing"
        )
    model.requires_grad_(False)
    model.to(device)
    return ClipBundle(model=model, tokenizer=tokenizer, name=name)
