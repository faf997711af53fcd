"""The IP-Adapter of a pipeline: loaded once with diffusers' ``load_ip_adapter``, shared by every
request, with InstantStyle's block patterns (docs/design.md, "Style references (IP-Adapter,
InstantStyle)").

``TASTEMAKER_IP_ADAPTER`` names it: ``tiny`` (built in code for ``--model tiny``), a hub id
with its weight file (``h94/IP-Adapter:models/ip-adapter_sd15.safetensors``) or a local
``.safetensors``/``.bin`` file; the image encoder is ``TASTEMAKER_IP_ADAPTER_IMAGE_ENCODER`` (a
hub id with a subfolder, ``h94/IP-Adapter:models/image_encoder``, or a local folder). Hub files
come from the local cache only (``tastemaker models pull`` fetches them). Only the base adapters
(one ``ImageProjection``: ``ip-adapter_sd15``, ``ip-adapter_sdxl``) are supported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers.models.attention_processor import IPAdapterAttnProcessor2_0
from diffusers.models.embeddings import ImageProjection
from PIL import Image
from torch import Tensor

from generation.errors import ModelLoadError, ModelNotFoundError
from generation.hub import HUB_ID, require_cached
from generation.reference_unet import ReferenceUNet, RoutedIPAdapterProcessor
from generation.settings import StyleRefMode
from generation.tiny_ip_adapter import (
    TINY_IP_ADAPTER_NAME,
    build_tiny_image_encoder,
    tiny_ip_adapter_state_dict,
)


@dataclass
class StyleAdapter:
    """A pipeline's IP-Adapter: its image projection, its layers and each mode's pattern."""

    name: str
    projection: ImageProjection
    layers: list[str]
    patterns: dict[StyleRefMode, list[float]]  # per mode, a 0/1 factor per layer
    pipeline: Any

    @torch.no_grad()
    def embed(self, images: list[Image.Image]) -> Tensor:
        """CLIP image embeddings [N, D] of the references (diffusers' ``encode_image``)."""
        device = self.projection.image_embeds.weight.device
        embeds, _ = self.pipeline.encode_image([i.convert("RGB") for i in images], device, 1)
        return embeds.float().cpu()

    @torch.no_grad()
    def tokens(self, embedding: Tensor) -> Tensor:
        """The image tokens [1, T, C] of one (averaged) embedding [D]."""
        weight = self.projection.image_embeds.weight
        return self.projection(embedding.reshape(1, -1).to(weight))

    def factors(self, scale: float, mode: StyleRefMode) -> Tensor:
        """A row's factor per layer: ``scale`` where the mode's pattern has the layer, else 0."""
        return torch.tensor(self.patterns[mode], dtype=torch.float32) * scale

    def wrap(self, unet: Any, tokens: Tensor, factors: Tensor) -> ReferenceUNet:
        empty = self.tokens(torch.zeros(self.projection.image_embeds.in_features))
        return ReferenceUNet(unet, tokens=tokens, empty=empty, factors=factors, layers=self.layers)


def instantstyle_blocks(unet: Any, mode: StyleRefMode) -> dict[str, Any] | float:
    """InstantStyle's ``set_ip_adapter_scale`` dict for this UNet: the style block is the middle
    attention of the first up block with attentions (SDXL ``up.block_0[1]``, SD 1.5
    ``up.block_1[1]``), the layout block the last attention of the last such down block."""
    if mode is StyleRefMode.FULL:
        return 1.0
    per_up = unet.config.layers_per_block + 1
    ups = [i for i, b in enumerate(unet.up_blocks) if hasattr(b, "attentions")]
    style = [0.0] * per_up
    style[per_up // 2] = 1.0
    blocks: dict[str, Any] = {"up": {f"block_{ups[0]}": style}}
    if mode is StyleRefMode.STYLE_LAYOUT:
        per_down = unet.config.layers_per_block
        downs = [i for i, b in enumerate(unet.down_blocks) if hasattr(b, "attentions")]
        layout = [0.0] * per_down
        layout[-1] = 1.0
        blocks["down"] = {f"block_{downs[-1]}": layout}
    return blocks


class _EmptyFloat32Warning(logging.Filter):
    """Drops diffusers' "modules … should be kept in float32: []": ``load_ip_adapter`` casts
    the UNet to its own dtype, and ``ModelMixin.to`` warns on any cast even when the list of
    such modules is empty (it tests ``[] is not None``). Every style-reference run printed it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "should be kept in float32: []" not in record.getMessage()


@contextmanager
def _without_empty_float32_warning() -> Iterator[None]:
    logger = logging.getLogger("diffusers.models.modeling_utils")
    quiet = _EmptyFloat32Warning()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def attach_ip_adapter(
    pipeline: Any,
    state: dict[str, Any] | str,
    *,
    name: str,
    weight_name: str = "",
    subfolder: str = "",
) -> StyleAdapter:
    """``pipeline.load_ip_adapter`` (the pipeline must already hold its image encoder), then
    each mode's per-layer pattern read off ``set_ip_adapter_scale`` and the processors routed."""
    with _without_empty_float32_warning():
        pipeline.load_ip_adapter(
            state, subfolder=subfolder, weight_name=weight_name, image_encoder_folder=None
        )
    unet = pipeline.unet
    layers = [
        n for n, p in unet.attn_processors.items() if isinstance(p, IPAdapterAttnProcessor2_0)
    ]
    projection = unet.encoder_hid_proj.image_projection_layers[0]
    if not isinstance(projection, ImageProjection):
        raise ModelLoadError(
            f"{name} is an IP-Adapter Plus/FaceID variant; tastemaker supports the base adapters "
            "(ip-adapter_sd15, ip-adapter_sdxl)"
        )
    patterns: dict[StyleRefMode, list[float]] = {}
    for mode in StyleRefMode:
        pipeline.set_ip_adapter_scale(instantstyle_blocks(unet, mode))
        processors = unet.attn_processors
        patterns[mode] = [float(processors[layer].scale[0]) for layer in layers]
    routed = {
        n: RoutedIPAdapterProcessor(p, n) if n in layers else p
        for n, p in unet.attn_processors.items()
    }
    unet.set_attn_processor(routed)
    # The projection runs once per request (``StyleAdapter.tokens``), not inside the UNet: a UNet
    # without it takes plain text calls from every other caller (training, PALP) as before.
    unet.encoder_hid_proj = None
    unet.register_to_config(encoder_hid_dim_type=None)
    projection.requires_grad_(False)
    return StyleAdapter(name, projection, layers, patterns, pipeline)


def load_style_adapter(
    pipeline: Any, adapter: str, image_encoder: str | None = None
) -> StyleAdapter:
    """The adapter ``adapter`` (see the module docstring) attached to ``pipeline``."""
    if adapter == TINY_IP_ADAPTER_NAME:
        encoder, processor = build_tiny_image_encoder()
        pipeline.register_modules(
            image_encoder=encoder.to(pipeline.device), feature_extractor=processor
        )
        return attach_ip_adapter(pipeline, tiny_ip_adapter_state_dict(pipeline.unet), name=adapter)
    if not image_encoder:
        raise ModelLoadError(
            "TASTEMAKER_IP_ADAPTER needs its image encoder: set "
            "TASTEMAKER_IP_ADAPTER_IMAGE_ENCODER (e.g. h94/IP-Adapter:models/image_encoder)"
        )
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    folder, weight = _file(adapter)
    encoder_root, encoder_sub = _folder(image_encoder)
    try:
        encoder = CLIPVisionModelWithProjection.from_pretrained(
            encoder_root, subfolder=encoder_sub, dtype=pipeline.dtype, local_files_only=True
        )
    except Exception as error:
        raise ModelLoadError(f"cannot load the image encoder {image_encoder}: {error}") from error
    size: Any = encoder.config.image_size
    pipeline.register_modules(
        image_encoder=encoder.to(pipeline.device).eval().requires_grad_(False),
        feature_extractor=CLIPImageProcessor(size=size, crop_size=size),
    )
    try:
        return attach_ip_adapter(
            pipeline, str(folder), name=adapter, weight_name=weight, subfolder=""
        )
    except ModelLoadError:
        raise
    except Exception as error:
        raise ModelLoadError(f"cannot load the IP-Adapter {adapter}: {error}") from error


def _split(spec: str) -> tuple[str, str]:
    root, _, rest = spec.partition(":")
    return root, rest


def _file(spec: str) -> tuple[Path, str]:
    """(folder, weight file name) of a local file or ``owner/name:path/in/repo``."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path.parent, path.name
    root, inner = _split(spec)
    if not (HUB_ID.match(root) and inner):
        raise ModelNotFoundError(
            f"IP-Adapter {spec!r}: not a file, nor a hub id with its weight file "
            "(owner/name:models/ip-adapter_sd15.safetensors)"
        )
    snapshot = require_cached(root) / inner
    if not snapshot.is_file():
        raise ModelNotFoundError(f"{inner} is not in the cached snapshot of {root}")
    return snapshot.parent, snapshot.name


def _folder(spec: str) -> tuple[Path, str]:
    path = Path(spec).expanduser()
    if path.is_dir():
        return path, ""
    root, inner = _split(spec)
    if not HUB_ID.match(root):
        raise ModelNotFoundError(f"image encoder {spec!r}: not a folder nor a hub id")
    return require_cached(root), inner
