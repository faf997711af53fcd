"""A person's PALP adapter as a LoRA file AUTOMATIC1111 and ComfyUI load (docs/design.md,
"LoRAs").

PALP's adapter is a peft LoRA on the UNet's attention projections (``generation.palp_adapters``,
``lora_alpha`` = rank, so its scale is 1). diffusers' ``convert_state_dict_to_kohya`` renames
peft's layers to kohya's (``lora_unet_…_to_q.lora_down.weight`` / ``lora_up.weight`` /
``alpha``, alpha = rank: the same scale), the naming A1111's and ComfyUI's LoRA loaders read; a
PALP image's PNG names its adapter in the cache (``tastemaker:palp_adapter``), so the adapter
that made an image is the one exported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generation.errors import InvalidGenerationRequest

if TYPE_CHECKING:
    from torch import Tensor

PALP_ADAPTER_CHUNK = "tastemaker:palp_adapter"
# A1111 shows LoRAs for the model family in ``ss_base_model_version`` (by cross-attention width).
_FAMILIES = {768: "sd_v1", 1024: "sd_v2", 2048: "sdxl_base_v1-0"}


def palp_as_kohya(
    adapter: dict[str, Tensor], *, rank: int, name: str, prompt: str = ""
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The adapter's tensors in kohya's naming and the file's metadata (kohya's ``ss_*``
    fields A1111 shows, and the prompt it was trained for)."""
    import torch
    from diffusers.utils import convert_state_dict_to_kohya

    if not adapter:
        raise InvalidGenerationRequest("this PALP adapter has no weights (0 training steps)")
    kohya = convert_state_dict_to_kohya({f"unet.{key}": value for key, value in adapter.items()})
    tensors = {
        key: (value.to(torch.float32) if key.endswith(".alpha") else value).detach().contiguous()
        for key, value in kohya.items()
    }  # kohya stores alpha as a float; diffusers' conversion leaves an int
    metadata = {
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(rank),
        "ss_network_alpha": str(rank),
        "ss_output_name": name,
        "tastemaker_palp_prompt": prompt,
    }
    widths = {int(value.shape[1]) for key, value in adapter.items() if ".attn2.to_k.lora_A" in key}
    if len(widths) == 1 and (family := _FAMILIES.get(widths.pop())):
        metadata["ss_base_model_version"] = family
    return tensors, metadata


def palp_lora_bytes(adapter: dict[str, Tensor], *, rank: int, name: str, prompt: str = "") -> bytes:
    """The LoRA ``.safetensors`` file's bytes (``palp_as_kohya``)."""
    from safetensors.torch import save

    tensors, metadata = palp_as_kohya(adapter, rank=rank, name=name, prompt=prompt)
    return save(tensors, metadata=metadata)
