"""A tiny, seeded IP-Adapter and CLIP image encoder for ``--model tiny`` / ``tiny-sdxl``.

Built the way diffusers' own tests build them (``create_ip_adapter_state_dict`` in
``tests/models/unets/test_models_unet_2d_condition.py``; the image encoder of
``IPAdapterTesterMixin``): one ``to_k_ip``/``to_v_ip`` pair per cross-attention processor, keyed
``1, 3, 5, ...`` in ``unet.attn_processors`` order, and an ``ImageProjection`` (``proj``,
``norm``) from the encoder's projection to 4 tokens of the UNet's cross-attention width. The
weights are random: references change the tiny images, they do not make them look alike.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.attention_processor import IPAdapterAttnProcessor
from diffusers.models.embeddings import ImageProjection
from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

from generation.tiny import TINY_HIDDEN, TINY_IMAGE_SIZE, TINY_PROJECTION

TINY_IP_ADAPTER_NAME = "tiny-ip-adapter"
TINY_IMAGE_TOKENS = 4


def build_tiny_image_encoder(seed: int = 0) -> tuple[CLIPVisionModelWithProjection, Any]:
    """A seeded ``CLIPVisionModelWithProjection`` (32-pixel images, 32-d embeds) and the
    ``CLIPImageProcessor`` that feeds it."""
    torch.manual_seed(seed)
    config = CLIPVisionConfig(
        hidden_size=TINY_HIDDEN,
        image_size=TINY_IMAGE_SIZE,
        intermediate_size=37,
        num_attention_heads=4,
        num_channels=3,
        num_hidden_layers=2,
        patch_size=4,
        projection_dim=TINY_PROJECTION,
    )
    encoder = CLIPVisionModelWithProjection(config).eval()
    encoder.requires_grad_(False)
    processor = CLIPImageProcessor(size=TINY_IMAGE_SIZE, crop_size=TINY_IMAGE_SIZE)
    return encoder, processor


def tiny_ip_adapter_state_dict(
    unet: Any, seed: int = 0, *, image_embed_dim: int = TINY_PROJECTION
) -> dict[str, dict[str, torch.Tensor]]:
    """The ``{"image_proj": ..., "ip_adapter": ...}`` dict ``load_ip_adapter`` takes, random
    and seeded, for any UNet (``bench/style_refs.py`` builds SD 1.5's shapes with it)."""
    torch.manual_seed(seed)
    config = unet.config
    cross_attention: dict[str, torch.Tensor] = {}
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):  # self-attention: no image keys
            continue
        if name.startswith("mid_block"):
            hidden_size = config.block_out_channels[-1]
        elif name.startswith("up_blocks"):
            block = int(name[len("up_blocks.")])
            hidden_size = list(reversed(config.block_out_channels))[block]
        else:
            block = int(name[len("down_blocks.")])
            hidden_size = config.block_out_channels[block]
        weights = IPAdapterAttnProcessor(
            hidden_size=hidden_size, cross_attention_dim=config.cross_attention_dim, scale=1.0
        ).state_dict()
        cross_attention[f"{key_id}.to_k_ip.weight"] = weights["to_k_ip.0.weight"]
        cross_attention[f"{key_id}.to_v_ip.weight"] = weights["to_v_ip.0.weight"]
        key_id += 2
    projection = ImageProjection(
        cross_attention_dim=config.cross_attention_dim,
        image_embed_dim=image_embed_dim,
        num_image_text_embeds=TINY_IMAGE_TOKENS,
    ).state_dict()
    image_proj = {
        "proj.weight": projection["image_embeds.weight"],
        "proj.bias": projection["image_embeds.bias"],
        "norm.weight": projection["norm.weight"],
        "norm.bias": projection["norm.bias"],
    }
    return {"image_proj": image_proj, "ip_adapter": cross_attention}
