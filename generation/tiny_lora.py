"""Tiny, seeded LoRA files for the tiny pipelines (``--model tiny`` / ``tiny-sdxl``), built the
way a trainer makes one: peft ``LoraConfig`` layers on a private copy of the tiny UNet (and text
encoder), random weights, saved with diffusers' ``save_lora_weights`` or in kohya's naming
(``convert_state_dict_to_kohya``: ``lora_unet_….lora_down.weight`` / ``lora_up`` / ``alpha``).
The shared pipelines are never touched. For tests, benchmarks and the offline demo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from generation.tiny import build_tiny_sd, build_tiny_sdxl

UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
FORMATS = ("diffusers", "kohya")


def build_tiny_lora(
    out: Path,
    *,
    sdxl: bool = False,
    seed: int = 1,
    rank: int = 4,
    scale: float = 0.5,
    text_encoder: bool = False,
    fmt: str = "diffusers",
) -> Path:
    """Write a rank-``rank`` LoRA for the tiny SD 1.x (or SDXL) pipeline to ``out``: UNet
    attention layers, and the (first) text encoder's with ``text_encoder``. ``scale`` is the
    spread of the up-projections (peft starts them at 0, which would change nothing)."""
    from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model

    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}")
    pipe: Any = (build_tiny_sdxl if sdxl else build_tiny_sd)(seed=0)
    torch.manual_seed(seed)
    unet_config = LoraConfig(
        r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=UNET_TARGETS
    )
    pipe.unet.add_adapter(unet_config)
    layers = {"unet": get_peft_model_state_dict(pipe.unet)}
    if text_encoder:
        text_config = LoraConfig(
            r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=TEXT_TARGETS
        )
        inject_adapter_in_model(text_config, pipe.text_encoder, adapter_name="default")
        layers["text_encoder"] = get_peft_model_state_dict(pipe.text_encoder)
    generator = torch.Generator().manual_seed(seed)
    for state in layers.values():
        for key, value in state.items():
            if "lora_B" in key:  # give the up-projections weight, so the LoRA does something
                value.copy_(torch.randn(value.shape, generator=generator) * scale)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "kohya":
        save_kohya(layers, out)
        return out
    type(pipe).save_lora_weights(
        out.parent,
        unet_lora_layers=layers["unet"],
        text_encoder_lora_layers=layers.get("text_encoder"),
        weight_name=out.name,
    )
    return out


def save_kohya(layers: dict[str, dict[str, torch.Tensor]], out: Path) -> None:
    """peft layers per component (``unet``, ``text_encoder``) as a kohya/A1111 file."""
    from diffusers.utils import convert_state_dict_to_kohya
    from safetensors.torch import save_file

    prefixed = {
        f"{part}.{key}": value for part, state in layers.items() for key, value in state.items()
    }
    kohya = convert_state_dict_to_kohya(prefixed)
    save_file(
        {k: v.detach().contiguous() for k, v in kohya.items()}, out, metadata={"format": "pt"}
    )
