"""Text encoding as the diffusers pipelines do it, plus A1111 weights and long prompts.

Not ``pipeline.encode_prompt``: the aesthetic gradients encode the prompt with *tuned* weights
of the first text encoder (a ``torch.func.functional_call`` override) while the shared encoder
stays untouched, and prompts carry A1111 weights and run past 77 tokens (compel, through
``generation/weighting.py``; docs/design.md, "Prompt weighting and long prompts"). A test checks
that an unweighted prompt of at most 75 tokens gives what ``encode_prompt`` gives.
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
from generation.weighting import Overrides, WeightedTextEncoder

SDPipeline: TypeAlias = Any
"""A ``StableDiffusionPipeline`` or ``StableDiffusionXLPipeline`` (diffusers is untyped)."""


@dataclass(frozen=True)
class TextEmbeddings:
    """Hidden states the UNet reads ([1, 77·n, D], n chunks) and, for SDXL, the pooled
    embedding ([1, P])."""

    hidden: Tensor
    pooled: Tensor | None = None

    @property
    def tokens(self) -> int:
        return int(self.hidden.shape[1])


def pad_to(embeddings: TextEmbeddings, tokens: int, empty: TextEmbeddings) -> TextEmbeddings:
    """``embeddings`` followed by chunks of ``empty`` up to ``tokens`` positions, so encodings of
    different lengths can be added and batched (compel's padding; an all-zero encoding, SDXL's
    empty negative prompt, is padded with zeros)."""
    missing = tokens - embeddings.tokens
    if missing <= 0:
        return embeddings
    filler = empty.hidden.to(embeddings.hidden)
    if not bool(embeddings.hidden.any()):
        filler = torch.zeros_like(filler)
    repeats = -(-missing // filler.shape[1])
    extra = filler.expand(embeddings.hidden.shape[0], -1, -1).repeat(1, repeats, 1)[:, :missing]
    return TextEmbeddings(torch.cat([embeddings.hidden, extra], dim=1), embeddings.pooled)


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
        self._weighted: WeightedTextEncoder | None = None
        self._empty: TextEmbeddings | None = None

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

    @property
    def weighted(self) -> WeightedTextEncoder:
        """compel's weighted, chunked encoding for this pipeline (built on first use)."""
        if self._weighted is None:
            self._weighted = WeightedTextEncoder(self.tokenizers, self.encoders, sdxl=self.sdxl)
        return self._weighted

    def count_chunks(self, text: str) -> int:
        """77-token chunks ``text`` (A1111 syntax) takes, before the ``MAX_CHUNKS`` budget."""
        return self.weighted.count_chunks(text)

    def encode(self, text: str, *, overrides: Overrides | None = None) -> TextEmbeddings:
        """``E(text)`` with A1111 weights, in 77-token chunks ([1, 77·n, D], n ≤ ``MAX_CHUNKS``);
        ``overrides`` replace some parameters of the first encoder for this call."""
        hidden, pooled = self.weighted.encode(text, overrides=overrides)
        return self._embeddings(hidden, pooled)

    def _embeddings(self, hidden: Tensor, pooled: Tensor | None) -> TextEmbeddings:
        return TextEmbeddings(
            hidden.to(dtype=self.dtype, device=self.device),
            pooled.to(dtype=self.dtype, device=self.device) if pooled is not None else None,
        )

    def empty_chunk(self) -> TextEmbeddings:
        """``E("")``, one chunk: what shorter encodings are padded with (compel's padding)."""
        if self._empty is None:
            self._empty = self.encode("")
        return self._empty

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

        ``vectors`` maps ``clip_l`` (and for SDXL ``clip_g``) to [K, D]. Without ``grad`` the
        text is weighted and chunked like ``encode``; with it (training, one 77-token window
        that always keeps the marker) the result is differentiable in the vectors. The
        encoders' own weights never are.
        """
        if not grad:
            hidden, pooled = self.weighted.encode(text, overrides=overrides, style=vectors)
            return self._embeddings(hidden, pooled)
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
