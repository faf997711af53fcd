"""Aesthetic gradients (Gallego 2022) without copying, reloading or mutating the text encoder.

For one prompt: a few Adam steps on the text encoder's weights that maximize
``cos(text_features(prompt), e)``, then the prompt is encoded with the tuned weights. The shared
encoder is never written to: the steps optimize per-request *deltas* and evaluate the encoder with
``torch.func.functional_call(encoder, {name: w.detach() + delta})``. Adam on a delta that starts
at zero makes exactly the updates Adam on the weights would make, so this is the reference method
— minus the per-prompt model reload and the 123M-parameter copy.

Costs kept small on purpose:
- the steps run on the prompt's tokens only (up to the end marker, no padding): CLIP's text model
  is causal, so the pooled feature does not depend on the padding positions;
- the steps read the prompt's words without A1111 weights or BREAKs, its first 77 tokens (the
  pooled feature is one chunk's); the tuned weights then encode the whole prompt, weighted and
  chunked, like the shared ones (docs/design.md, "Prompt weighting and long prompts");
- the embeddings (token, position) are not tuned: the token table alone is 38M parameters and a
  prompt only touches a handful of its rows; the transformer layers and final norm are tuned,
  or only the last ``layers`` of them.

``functional_call`` swaps tensors on the module for the duration of a call, so callers that share
the encoder between threads hold one lock around every use of it (the generator does).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.func import functional_call

from generation.encoding import Overrides
from generation.errors import AestheticEmbeddingError, ClipMismatchError
from generation.prompt_syntax import plain_text

StepCallback = Callable[[int, float], None]
"""Called after each step with (step index from 0, cosine similarity before the step)."""


def tunable_parameter_names(encoder: torch.nn.Module, layers: int | None = None) -> list[str]:
    """Encoder weights the steps tune: transformer layers and final norm, not embeddings."""
    names = [n for n, _ in encoder.named_parameters() if ".embeddings." not in f".{n}"]
    layer_ids = sorted(
        {int(n.split(".layers.")[1].split(".")[0]) for n in names if ".layers." in n}
    )
    if layers is not None and layer_ids:
        keep = set(layer_ids[-layers:])
        names = [
            n
            for n in names
            if ".layers." not in n or int(n.split(".layers.")[1].split(".")[0]) in keep
        ]
    return names


class AestheticTuner:
    """Tunes a view of a shared CLIP text encoder towards an aesthetic embedding, per request."""

    def __init__(
        self, text_encoder: torch.nn.Module, tokenizer: object, projection: torch.nn.Module
    ) -> None:
        hidden = getattr(text_encoder.config, "hidden_size", None)
        in_features = getattr(projection, "in_features", None)
        if hidden != in_features:
            raise ClipMismatchError(
                f"the CLIP text projection takes {in_features}-d inputs but the pipeline's text "
                f"encoder is {hidden}-d: set the CLIP model that matches the pipeline"
            )
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        self.projection = projection

    def _projection_weight(self) -> Tensor:
        weight = self.projection.weight
        assert isinstance(weight, Tensor)
        return weight.detach()

    @property
    def embedding_dim(self) -> int:
        return int(self.projection.out_features)  # type: ignore[arg-type]

    def check_embedding(self, embedding: Tensor) -> Tensor:
        """A finite vector of the projection's size, L2-normalized (as the method uses it)."""
        vector = embedding.detach().reshape(-1).to(torch.float32)
        if vector.numel() != self.embedding_dim:
            raise AestheticEmbeddingError(
                f"aesthetic embedding has {vector.numel()} values; this CLIP model needs "
                f"{self.embedding_dim}"
            )
        norm = float(vector.norm())
        if not math.isfinite(norm) or norm == 0.0:
            raise AestheticEmbeddingError("aesthetic embedding is zero or not finite")
        return vector / norm

    def tune(
        self,
        prompt: str,
        embedding: Tensor,
        *,
        steps: int,
        lr: float,
        layers: int | None = None,
        on_step: StepCallback | None = None,
    ) -> tuple[Overrides, list[float]]:
        """Return tuned weights (a name -> tensor override, new tensors) and the cosine per step.

        The encoder's own parameters are read, never written, and collect no gradient; if
        anything raises mid-way the partial deltas are simply dropped.
        """
        target = self.check_embedding(embedding)
        if steps <= 0:
            return {}, []
        prompt = plain_text(prompt)  # the words, not their A1111 weights or BREAKs
        encoder = self.text_encoder
        device = next(encoder.parameters()).device
        ids = self.tokenizer(  # type: ignore[operator]
            prompt,
            truncation=True,
            max_length=self.tokenizer.model_max_length,  # type: ignore[attr-defined]
        ).input_ids
        ids_tensor = torch.tensor([ids], device=device)
        params = dict(encoder.named_parameters())
        names = tunable_parameter_names(encoder, layers)
        base = {n: params[n].detach() for n in names}
        deltas = {
            n: torch.zeros_like(w, dtype=torch.float32, requires_grad=True) for n, w in base.items()
        }
        optimizer = _adam(list(deltas.values()), lr)
        projection_weight = self._projection_weight()
        target = target.to(device=device, dtype=torch.float32)
        similarities: list[float] = []
        with torch.enable_grad():
            for step in range(steps):
                tuned = {n: base[n] + deltas[n].to(base[n].dtype) for n in names}
                out = functional_call(encoder, tuned, (ids_tensor,))
                features = out.pooler_output.float() @ projection_weight.float().T
                similarity = torch.nn.functional.cosine_similarity(features, target[None], dim=-1)
                loss = -similarity.sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                similarities.append(float(similarity.detach()))
                if on_step is not None:
                    on_step(step, similarities[-1])
        overrides = {n: (base[n] + deltas[n].detach().to(base[n].dtype)) for n in names}
        return overrides, similarities

    def similarity(
        self, prompt: str, embedding: Tensor, overrides: Overrides | None = None
    ) -> float:
        """cos(text_features(prompt), e) with the shared or the tuned weights."""
        target = self.check_embedding(embedding)
        device = next(self.text_encoder.parameters()).device
        ids = self.tokenizer(plain_text(prompt), truncation=True, max_length=77).input_ids  # type: ignore[operator]
        ids_tensor = torch.tensor([ids], device=device)
        with torch.no_grad():
            if overrides:
                out = functional_call(self.text_encoder, overrides, (ids_tensor,))
            else:
                out = self.text_encoder(ids_tensor)
            features = out.pooler_output.float() @ self._projection_weight().float().T
            return float(
                torch.nn.functional.cosine_similarity(features, target[None].to(device), dim=-1)
            )


def _adam(params: list[Tensor], lr: float) -> torch.optim.Optimizer:
    """Fused Adam where the device supports it: on CPU it takes the steps from ~3.6 s to ~2.1 s
    for SD 1.5's 85M tunable weights (5 steps, one thread)."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=lr)
