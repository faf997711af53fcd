"""PALP's LoRA adapters: attached to the shared UNet only for one job, and cached on disk.

``peft`` (through diffusers' ``PeftAdapterMixin`` on the UNet) builds and runs the LoRA layers;
this module only scopes them. An adapter wraps the attention projections of the *shared* UNet,
so it must never outlive the job that attached it: ``attached_lora`` removes every peft layer on
exit (``unload_lora`` restores the original ``nn.Linear`` modules, whose weights were frozen and
never touched), whatever happened inside. The job system runs PALP jobs alone on a pipeline.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

ADAPTER_NAME = "palp"
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


@contextmanager
def attached_lora(
    unet: Any, *, rank: int, seed: int = 0, weights: dict[str, Tensor] | None = None
) -> Iterator[list[torch.nn.Parameter]]:
    """A fresh (or given) rank-``rank`` LoRA on ``unet`` for the duration of the block.

    Yields the trainable LoRA parameters. New adapters start as peft initialises them (B = 0),
    so before any step the adapted UNet computes exactly what the pretrained one does.
    """
    from peft import LoraConfig  # peft loads only in the jobs that use an adapter
    from peft.utils import set_peft_model_state_dict

    if getattr(unet, "peft_config", None):
        raise RuntimeError("the UNet already carries an adapter; PALP jobs must run alone")
    torch.manual_seed(seed)  # peft draws the A matrices from torch's global generator
    config = LoraConfig(
        r=rank, lora_alpha=rank, init_lora_weights=True, target_modules=LORA_TARGETS
    )
    unet.add_adapter(config, adapter_name=ADAPTER_NAME)
    try:
        if weights is not None:
            set_peft_model_state_dict(unet, weights, adapter_name=ADAPTER_NAME)
        trainable = [p for name, p in unet.named_parameters() if "lora_" in name]
        for parameter in trainable:
            parameter.requires_grad_(weights is None)
        yield trainable
    finally:
        unet.unload_lora()


def lora_state_dict(unet: Any) -> dict[str, Tensor]:
    """The attached adapter's weights, detached copies on the CPU (what the cache stores)."""
    from peft.utils import get_peft_model_state_dict

    state = get_peft_model_state_dict(unet, adapter_name=ADAPTER_NAME)
    return {key: value.detach().to("cpu").clone().contiguous() for key, value in state.items()}


def adapter_key(**parts: Any) -> str:
    """A stable cache key from (profile version, token, prompt, settings, model)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


class AdapterStore(Protocol):
    """Where a generation finds and keeps adapters (``AdapterCache``, or a job's stand-in that
    keeps new ones back until the job is done)."""

    def get(self, key: str) -> tuple[dict[str, Tensor], int] | None: ...

    def put(self, key: str, adapter: dict[str, Tensor], *, rank: int) -> None: ...


class AdapterCache:
    """Adapters as safetensors files in one folder, evicted oldest-used first past a size bound.

    Small (a rank-32 SD 1.5 adapter is ~12 MB in fp32), so the file system is the right store in
    embedded mode; the key already contains everything the adapter depends on, so entries never
    go stale — they only age out.
    """

    def __init__(self, folder: Path, *, max_bytes: int) -> None:
        self._folder = folder
        self._max_bytes = max_bytes

    def _path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError("adapter keys are hex digests")
        return self._folder / f"{key}.safetensors"

    def get(self, key: str) -> tuple[dict[str, Tensor], int] | None:
        """The adapter's weights and rank, or None when it was never made (or aged out)."""
        path = self._path(key)
        if not path.is_file():
            return None
        path.touch()  # mark as recently used
        with safe_open(str(path), framework="pt") as handle:
            rank = int((handle.metadata() or {}).get("rank", "0"))
        return load_file(path), rank

    def put(self, key: str, adapter: dict[str, Tensor], *, rank: int) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        partial = path.with_suffix(".partial")
        save_file(adapter, partial, metadata={"rank": str(rank), "format": "peft-lora"})
        partial.replace(path)  # atomic: a reader never sees half a file
        self._evict()

    def _evict(self) -> None:
        files = sorted(self._folder.glob("*.safetensors"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        while files and total > self._max_bytes:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)
