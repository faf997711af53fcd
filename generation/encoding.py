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
from generation.style_inject import Injection, encoder_keys, injected, install, tokenize_with_token
from generation.tokenizing import tokenize

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
        return tokenize(
            tokenizer,
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

    @property
    def encoders(self) -> list[Any]:
        """The text encoder(s), in the order of ``tokenizers`` (SDXL: CLIP-L, then CLIP-G)."""
        if self.sdxl:
            return [self.pipeline.text_encoder, self.pipeline.text_encoder_2]
        return [self.pipeline.text_encoder]

    def style_inputs(self, text: str, count: int) -> list[tuple[Tensor, Tensor]]:
        """(ids, token mask) per encoder for a text with the style marker and ``count`` vectors."""
        return [tokenize_with_token(tokenizer, text, count) for tokenizer in self.tokenizers]

    def encode_with_style(
        self,
        text: str,
        vectors: dict[str, Tensor],
        *,
        overrides: Overrides | None = None,
        grad: bool = False,
    ) -> TextEmbeddings:
        """``E(text)`` with learned vectors at the style marker, for this call only.

        ``vectors`` maps ``clip_l`` (and for SDXL ``clip_g``) to [K, D]. With ``grad`` the result
        is differentiable in the vectors (training); the encoders' own weights never are.
        """
        count = int(next(iter(vectors.values())).shape[0])
        inputs = self.style_inputs(text, count)
        return self.encode_ids(inputs, vectors, overrides=overrides, grad=grad)

    def encode_ids(
        self,
        inputs: list[tuple[Tensor, Tensor]],
        vectors: dict[str, Tensor],
        *,
        overrides: Overrides | None = None,
        grad: bool = False,
    ) -> TextEmbeddings:
        """Encode pre-tokenized (ids, mask) pairs, one per encoder, with injected vectors."""
        encoders = self.encoders
        keys = encoder_keys(encoders)
        missing = [key for key in keys if key not in vectors]
        if missing:
            raise ValueError(f"style vectors lack {', '.join(missing)} for this pipeline")
        layers = {
            install(encoder): Injection(mask.to(encoder.device), vectors[key])
            for encoder, key, (_ids, mask) in zip(encoders, keys, inputs, strict=True)
        }
        hidden: list[Tensor] = []
        pooled: Tensor | None = None
        with injected(layers), torch.set_grad_enabled(grad):
            for index, (encoder, (ids, _mask)) in enumerate(zip(encoders, inputs, strict=True)):
                ids = ids.to(encoder.device)
                extra = overrides if index == 0 else None
                if not self.sdxl:
                    out = _call(encoder, extra, ids)
                    return TextEmbeddings(out[0].to(dtype=self.dtype, device=self.device))
                out = _call(encoder, extra, ids, output_hidden_states=True)
                if index == 1:
                    pooled = out[0]
                hidden.append(out.hidden_states[-2])
        assert pooled is not None
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


def _call(module: torch.nn.Module, overrides: Overrides | None, ids: Tensor, **kwargs: Any) -> Any:
    if overrides:
        return functional_call(module, overrides, (ids,), kwargs)
    return module(ids, **kwargs)


def blend(base: TextEmbeddings, styled: TextEmbeddings | None, weight: float) -> TextEmbeddings:
    """``E(p) + w·(E(p with token) − E(p))``: weight 0 returns ``base`` itself, 1 the styled one."""
    if styled is None or weight == 0.0:
        return base
    if weight == 1.0:
        return styled
    pooled = base.pooled
    if pooled is not None and styled.pooled is not None:
        pooled = pooled + weight * (styled.pooled - pooled)
    return TextEmbeddings(base.hidden + weight * (styled.hidden - base.hidden), pooled)


def combine(base: TextEmbeddings, extra: TextEmbeddings | None, degree: float) -> TextEmbeddings:
    """ViPer: ``E(p) + β·E(VP)``; pooled stays the prompt's; β = 0 returns ``base`` itself."""
    if extra is None or degree == 0.0:
        return base
    return TextEmbeddings(base.hidden + degree * extra.hidden, base.pooled)
