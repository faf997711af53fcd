"""The CLIP model that matches the pipeline's text encoder: image/text features for tastemaker.

Used for the aesthetic embedding (vision tower), the aesthetic-gradient projection (text
projection) and the proxy preference score. Images are preprocessed here (resize, centre crop,
CLIP's normalization) so no torchvision-backed image processor is needed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from transformers import CLIPModel

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class ClipBundle:
    """A CLIP model, its tokenizer and the name its embeddings are stored under."""

    model: CLIPModel
    tokenizer: object
    name: str
    # Fast tokenizers keep padding/truncation state between calls: one caller at a time.
    _tokenizer_lock: threading.Lock = field(
        default_factory=threading.Lock, compare=False, repr=False
    )

    @property
    def projection(self) -> torch.nn.Module:
        projection = self.model.text_projection
        assert isinstance(projection, torch.nn.Module)
        return projection

    @property
    def embedding_dim(self) -> int:
        config: Any = self.model.config
        return int(config.projection_dim)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def pixel_values(self, images: Sequence[Image.Image]) -> Tensor:
        """Resize (shortest side), centre crop and normalize as CLIP's image processor does."""
        config: Any = self.model.config
        size = int(config.vision_config.image_size)
        batch = []
        for image in images:
            rgb = image.convert("RGB")
            scale = size / min(rgb.size)
            resized = rgb.resize(
                (max(size, round(rgb.width * scale)), max(size, round(rgb.height * scale))),
                Image.Resampling.BICUBIC,
            )
            left = (resized.width - size) // 2
            top = (resized.height - size) // 2
            crop = resized.crop((left, top, left + size, top + size))
            pixels = np.asarray(crop, dtype=np.float32) / 255.0
            array = (pixels - np.array(CLIP_MEAN, dtype=np.float32)) / np.array(
                CLIP_STD, dtype=np.float32
            )
            batch.append(torch.from_numpy(array.transpose(2, 0, 1).copy()))
        dtype = next(self.model.parameters()).dtype
        return torch.stack(batch).to(device=self.device, dtype=dtype)

    @torch.no_grad()
    def image_features(self, images: Sequence[Image.Image]) -> Tensor:
        """L2-normalized projected image embeddings, [N, D] float32."""
        if not images:
            return torch.zeros(0, self.embedding_dim)
        out = self.model.get_image_features(pixel_values=self.pixel_values(images))
        features = out.pooler_output if hasattr(out, "pooler_output") else out
        return torch.nn.functional.normalize(features.float(), dim=-1).cpu()

    @torch.no_grad()
    def text_features(self, texts: Sequence[str]) -> Tensor:
        """L2-normalized projected text embeddings, [N, D] float32."""
        if not texts:
            return torch.zeros(0, self.embedding_dim)
        with self._tokenizer_lock:
            inputs = self.tokenizer(  # type: ignore[operator]
                list(texts), padding=True, truncation=True, max_length=77, return_tensors="pt"
            )
        out = self.model.get_text_features(
            input_ids=inputs.input_ids.to(self.device),
            attention_mask=inputs.attention_mask.to(self.device),
        )
        features = out.pooler_output if hasattr(out, "pooler_output") else out
        return torch.nn.functional.normalize(features.float(), dim=-1).cpu()

    @property
    def logit_scale(self) -> float:
        """CLIP's learned temperature: turns cosine gaps into zero-shot probabilities."""
        return float(self.model.logit_scale.detach().exp().clamp(max=100.0))
