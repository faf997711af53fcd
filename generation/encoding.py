"""Text encoding exactly as the diffusers pipelines do it, with an optional parameter override.

Re-implemented (rather than calling ``pipeline.encode_prompt``) for one reason: the aesthetic
gradients encode the prompt with *tuned* weights of the first text encoder, passed as a
``torch.func.functional_call`` override, while the shared encoder stays untouched. A test checks
that, without an override, this gives bit-for-bit what ``encode_prompt`` gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import torch
from diffusers import StableDiffusionXLPipeline
from torch import Tensor
from torch.func import functional_call

from generation.errors import ModelLoadError

SDPipeline: TypeAlias = Any
"""A ``StableDiffusionPipeline`` or ``StableDiffusionXLPipeline`` (diffusers is untyped)."""
Overrides = dict[str, Tensor]


@dataclass(frozen=True)
class TextEmbeddings:
    """Hidden states the UNet reads ([1, 77, D]) and, for SDXL, the pooled embedding ([1, P])."""

    hidden: Tensor
    pooled: Tensor | None = None


def is_sdxl(pipeline: object) -> bool:
    return isinstance(pipeline, StableDiffusionXLPipeline)


class PipelineTextEncoder:
    """Encodes text with a pipeline's tokenizer(s) and text encoder(s), SD 1.x or SDXL."""

    def __init__(self, pipeline: SDPipeline) -> None:
        if getattr(pipeline, "text_encoder", None) is None or pipeline.tokenizer is None:
            raise ModelLoadError(
                "the pipeline has no text encoder/tokenizer; tastemaker needs both"
            )
        self.pipeline = pipeline
        self.sdxl = is_sdxl(pipeline)
        if self.sdxl and (pipeline.text_encoder_2 is None or pipeline.tokenizer_2 is None):
            raise ModelLoadError("the SDXL pipeline lacks its second text encoder or tokenizer")

    @property
    def text_encoder(self) -> torch.nn.Module:
        """The encoder aesthetic gradients tune (SDXL: the CLIP ViT-L one)."""
        return self.pipeline.text_encoder

    @property
    def tokenizers(self) -> list[Any]:
        if self.sdxl:
            return [self.pipeline.tokenizer, self.pipeline.tokenizer_2]
        return [self.pipeline.tokenizer]

    @property
    def dtype(self) -> torch.dtype:
        encoder = self.pipeline.text_encoder_2 if self.sdxl else self.pipeline.text_encoder
        return encoder.dtype

    @property
    def device(self) -> torch.device:
        return self.pipeline._execution_device

    def _ids(self, tokenizer: Any, text: str) -> Any:
        return tokenizer(
            text,
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        )

    def encode(self, text: str, *, overrides: Overrides | None = None) -> TextEmbeddings:
        """``E(text)``; ``overrides`` replace some parameters of the first encoder for this call."""
        if self.sdxl:
            return self._encode_sdxl(text, overrides)
        encoder = self.pipeline.text_encoder
        inputs = self._ids(self.pipeline.tokenizer, text)
        mask = None
        if getattr(encoder.config, "use_attention_mask", False):
            mask = inputs.attention_mask.to(encoder.device)
        ids = inputs.input_ids.to(encoder.device)
        out = _run(encoder, overrides, ids, attention_mask=mask)
        return TextEmbeddings(out[0].to(dtype=self.dtype, device=self.device))

    def _encode_sdxl(self, text: str, overrides: Overrides | None) -> TextEmbeddings:
        pipe = self.pipeline
        hidden: list[Tensor] = []
        pooled: Tensor | None = None
        for index, (tokenizer, encoder) in enumerate(
            ((pipe.tokenizer, pipe.text_encoder), (pipe.tokenizer_2, pipe.text_encoder_2))
        ):
            ids = self._ids(tokenizer, text).input_ids.to(encoder.device)
            out = _run(encoder, overrides if index == 0 else None, ids, output_hidden_states=True)
            if pooled is None and out[0].ndim == 2:
                pooled = out[0]
            hidden.append(out.hidden_states[-2])
        assert pooled is not None, "SDXL's second encoder gives the pooled embedding"
        return TextEmbeddings(
            torch.concat(hidden, dim=-1).to(dtype=self.dtype, device=self.device),
            pooled.to(dtype=self.dtype, device=self.device),
        )

    def encode_negative(self, text: str) -> TextEmbeddings:
        """``E(n)``; SDXL with an empty negative prompt uses zeros, as its pipeline does."""
        if self.sdxl and not text and self.pipeline.config.force_zeros_for_empty_prompt:
            like = self.encode("")
            assert like.pooled is not None
            return TextEmbeddings(torch.zeros_like(like.hidden), torch.zeros_like(like.pooled))
        return self.encode(text)


def _run(module: torch.nn.Module, overrides: Overrides | None, ids: Tensor, **kwargs: Any) -> Any:
    with torch.no_grad():
        if overrides:
            return functional_call(module, overrides, (ids,), kwargs)
        return module(ids, **kwargs)


def combine(base: TextEmbeddings, extra: TextEmbeddings | None, degree: float) -> TextEmbeddings:
    """ViPer: ``E(p) + β·E(VP)``; pooled stays the prompt's; β = 0 returns ``base`` itself."""
    if extra is None or degree == 0.0:
        return base
    return TextEmbeddings(base.hidden + degree * extra.hidden, base.pooled)
