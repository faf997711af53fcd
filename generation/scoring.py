"""A proxy preference score in [0, 1] for (image, profile), from CLIP; 0.5 means indifferent.

ViPer's proxy is a fine-tuned VLM; ours is CLIP zero-shot. Two contrasts, each against a neutral
reference in its own domain, so that an image nothing speaks for or against sits at 0.5:
- text: weighted cos(image, liked attributes) − weighted cos(image, disliked attributes), a side
  with no attributes replaced by the neutral text "an image";
- image: cos(image, aesthetic embedding) − cos(flat grey image, aesthetic embedding).
``score = sigmoid(s · mean(contrasts))`` with ``s`` CLIP's own logit scale, i.e. the probability
CLIP would give "liked" against "disliked" as two classes. An empty profile scores exactly 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from PIL import Image
from pydantic import BaseModel
from torch import Tensor

from generation.aesthetic import normalize_embedding
from generation.clip import ClipBundle
from preference_store.models import Profile, VisualAttribute

NEUTRAL_TEXT = "an image"


class PreferenceScore(BaseModel):
    score: float
    liked_similarity: float
    disliked_similarity: float
    aesthetic_similarity: float | None


class PreferenceScorer:
    """Scores images for a profile with a CLIP model (the one matching the pipeline)."""

    def __init__(self, clip: ClipBundle) -> None:
        self.clip = clip

    def _side(self, image_features: Tensor, attributes: Sequence[VisualAttribute]) -> Tensor:
        if not attributes:
            neutral = self.clip.text_features([NEUTRAL_TEXT])
            return image_features @ neutral[0]
        texts = self.clip.text_features([a.text for a in attributes])
        weights = torch.tensor([a.strength for a in attributes], dtype=torch.float32)
        weights = weights / weights.sum()
        return (image_features @ texts.T) @ weights

    def score(
        self,
        images: Sequence[Image.Image],
        profile: Profile,
        *,
        aesthetic_embedding: Tensor | None = None,
    ) -> list[PreferenceScore]:
        """One score per image (batched through CLIP)."""
        features = self.clip.image_features(images)
        if aesthetic_embedding is None and self.clip.name in profile.aesthetic_embeddings:
            aesthetic_embedding = torch.tensor(profile.aesthetic_embeddings[self.clip.name])
        liked = self._side(features, [a for a in profile.liked() if a.strength > 0])
        disliked = self._side(features, [a for a in profile.disliked() if a.strength > 0])
        contrasts = [liked - disliked]
        aesthetic = None
        if aesthetic_embedding is not None:
            target = normalize_embedding(aesthetic_embedding)
            aesthetic = features @ target
            grey = self.clip.image_features([Image.new("RGB", (64, 64), (128, 128, 128))])
            contrasts.append(aesthetic - float(grey[0] @ target))
        gaps = torch.stack(contrasts).mean(0)
        scale = self.clip.logit_scale
        return [
            PreferenceScore(
                score=1.0 / (1.0 + math.exp(-scale * float(gaps[i]))),
                liked_similarity=float(liked[i]),
                disliked_similarity=float(disliked[i]),
                aesthetic_similarity=None if aesthetic is None else float(aesthetic[i]),
            )
            for i in range(len(images))
        ]
