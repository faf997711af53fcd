"""Weighted, chunked text encoding through compel (docs/design.md, "Prompt weighting and long
prompts").

compel's ``EmbeddingsProvider`` does the work A1111 users expect: each 75-token chunk is encoded
with its own start/end markers and the chunks are concatenated (``[1, 77·n, D]``), a weight w on
a token gives ``E₀ + w·(E − E₀)`` with E₀ the empty prompt's encoding, and a weight below 1
blends towards the prompt with that fragment masked out. Chunks split at the last comma that
fits (``SplitLongTextMode.PHRASES``), so an attribute is never cut in two. Around it we add what
compel cannot know about:

- the fragments come from ``prompt_syntax.parse`` (A1111 syntax), one provider call per BREAK
  segment, and at most ``MAX_CHUNKS`` chunks are kept;
- the text encoder compel calls is a view that can evaluate aesthetic-tuned weights
  (``functional_call``) and passes an attention mask only where it matters, so an unweighted
  prompt of at most 75 tokens encodes exactly as diffusers' ``encode_prompt`` does;
- a style token is compel's textual-inversion hook: the ``<style>`` marker's tokens become K
  placeholder ids, whose embeddings ``style_inject`` replaces inside this call only;
- SDXL's pooled embedding is the second encoder's on the first chunk, as A1111 does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from compel.embeddings_provider import (
    BaseTextualInversionManager,
    EmbeddingsProvider,
    ReturnedEmbeddingsType,
    SplitLongTextMode,
)
from torch import Tensor
from torch.func import functional_call

from generation.prompt_syntax import MAX_CHUNKS, Fragment, parse, plain_text
from generation.style_inject import STYLE_MARKER, Injection, encoder_keys, injected, install
from generation.tokenizing import LockedTokenizer

Overrides = dict[str, Tensor]
_PLACEHOLDER_CANDIDATES = ("*", "~", "^", "|", "#", "$", "%", "&", "@", "+", "=", "<", ">")


class EncoderView:
    """What compel calls as "the text encoder": the shared one, or its tuned weights."""

    def __init__(self, encoder: Any, overrides: Overrides | None = None) -> None:
        self.encoder = encoder
        self.overrides = overrides or None
        self.keeps_mask = bool(getattr(encoder.config, "use_attention_mask", False))

    @property
    def device(self) -> torch.device:
        return self.encoder.device

    @property
    def dtype(self) -> torch.dtype:
        return self.encoder.dtype

    def __getattr__(self, name: str) -> Any:
        if name == "encoder":
            raise AttributeError(name)
        return getattr(self.encoder, name)

    def __call__(self, ids: Tensor, attention_mask: Tensor | None = None, **kwargs: Any) -> Any:
        # diffusers passes no mask unless the config asks; compel passes one always. An all-ones
        # mask changes nothing but the float path, so it is left out to match diffusers exactly.
        if attention_mask is not None and not self.keeps_mask and bool(attention_mask.all()):
            attention_mask = None
        kwargs["attention_mask"] = attention_mask
        if self.overrides:
            return functional_call(self.encoder, self.overrides, (ids,), kwargs)
        return self.encoder(ids, **kwargs)


class _StyleMarker(BaseTextualInversionManager):
    """compel's textual-inversion hook: the marker's own ids become ``count`` placeholders."""

    def __init__(self, marker_ids: list[int], placeholder: int, count: int) -> None:
        self.marker_ids = marker_ids
        self.placeholder = placeholder
        self.count = count

    def expand_textual_inversion_token_ids_if_necessary(self, token_ids: list[int]) -> list[int]:
        if list(token_ids) == self.marker_ids:
            return [self.placeholder] * self.count
        return token_ids


class WeightedTextEncoder:
    """Encodes A1111-syntax text with one or two (SDXL) CLIP encoders, weighted and chunked."""

    def __init__(self, tokenizers: Sequence[Any], encoders: Sequence[Any], *, sdxl: bool) -> None:
        self.tokenizers = [LockedTokenizer(t) for t in tokenizers]
        self.encoders = list(encoders)
        self.sdxl = sdxl
        self.kind = (
            ReturnedEmbeddingsType.PENULTIMATE_HIDDEN_STATES_NON_NORMALIZED
            if sdxl
            else ReturnedEmbeddingsType.LAST_HIDDEN_STATES_NORMALIZED
        )
        self._shared = [self._provider(i) for i in range(len(self.encoders))]

    def _provider(
        self, index: int, overrides: Overrides | None = None, marker: _StyleMarker | None = None
    ) -> EmbeddingsProvider:
        encoder = self.encoders[index]
        view = EncoderView(encoder, overrides if index == 0 else None)
        return EmbeddingsProvider(
            tokenizer=self.tokenizers[index],
            text_encoder=view,
            textual_inversion_manager=marker,
            truncate=False,
            padding_attention_mask_value=0 if view.keeps_mask else 1,
            returned_embeddings_type=self.kind,
            split_long_text_mode=SplitLongTextMode.PHRASES,
            device=encoder.device,
        )

    @property
    def window(self) -> int:
        return int(self.tokenizers[0].model_max_length)

    def count_chunks(self, text: str) -> int:
        """How many 77-token chunks ``text`` takes before the budget (the largest per tokenizer)."""
        segments = parse(text)
        return max(
            sum(
                len(p.get_token_ids_and_expand_weights(*_split(s), device="cpu")[0])
                for s in segments
            )
            // self.window
            for p in self._shared
        )

    def encode(
        self,
        text: str,
        *,
        overrides: Overrides | None = None,
        style: dict[str, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Hidden states ``[1, 77·n, D]`` (n ≤ ``MAX_CHUNKS``) and, for SDXL, the pooled ``[1, P]``.

        ``style`` (encoder key → ``[K, D]``) fills the ``<style>`` marker; ``overrides`` are
        tuned weights of the first encoder.
        """
        segments = parse(text)
        if style is not None:
            segments = [_isolate_marker(segment) for segment in segments]
        hidden: list[Tensor] = []
        pooled: Tensor | None = None
        for index, (encoder, vectors) in enumerate(
            zip(self.encoders, _vectors_per_encoder(style, self.encoders), strict=True)
        ):
            marker, injection = self._marker(index, text, vectors)
            provider = (
                self._shared[index]
                if marker is None and not (overrides and index == 0)
                else self._provider(index, overrides, marker)
            )
            parts: list[Tensor] = []
            first_ids: Tensor | None = None
            with _maybe_injected(encoder, injection), torch.no_grad():
                for segment in segments:
                    z, ids = provider.get_embeddings_for_weighted_prompt_fragments(
                        text_batch=[[f for f, _ in segment]],
                        fragment_weights_batch=[[w for _, w in segment]],
                        should_return_tokens=True,
                        device=encoder.device,
                    )
                    parts.append(z)
                    first_ids = ids[:, : self.window] if first_ids is None else first_ids
            states = _within_budget(
                torch.cat(parts, dim=1), self.window, keep_last=marker is not None
            )
            hidden.append(states)
            if self.sdxl and index == len(self.encoders) - 1:
                assert first_ids is not None
                with _maybe_injected(encoder, _fresh(injection)), torch.no_grad():
                    out = EncoderView(encoder)(first_ids.to(encoder.device))
                pooled = out[0]
        width = max(h.shape[1] for h in hidden)
        hidden = [
            _pad(h, width, self._shared[i].empty_z.to(h)) if h.shape[1] < width else h
            for i, h in enumerate(hidden)
        ]
        return torch.cat(hidden, dim=-1), pooled

    def _marker(
        self, index: int, text: str, vectors: Tensor | None
    ) -> tuple[_StyleMarker | None, Injection | None]:
        if vectors is None:
            return None, None
        tokenizer = self.tokenizers[index]  # already locked: called directly
        marker_ids = tokenizer(STYLE_MARKER, add_special_tokens=False).input_ids
        rest = plain_text(text.replace(STYLE_MARKER, " "))
        placeholder = _free_placeholder(
            tokenizer, set(tokenizer(rest, add_special_tokens=False).input_ids)
        )
        count = int(vectors.shape[0])
        injection = Injection(mask=None, vectors=vectors, placeholder=placeholder)
        return _StyleMarker(list(marker_ids), placeholder, count), injection


def _split(segment: list[Fragment]) -> tuple[list[str], list[float]]:
    return [f for f, _ in segment], [w for _, w in segment]


def _isolate_marker(segment: list[Fragment]) -> list[Fragment]:
    """The ``<style>`` marker as a fragment of its own, so the hook above can recognise it."""
    out: list[Fragment] = []
    for part, weight in segment:
        pieces = part.split(STYLE_MARKER)
        for index, piece in enumerate(pieces):
            if index:
                out.append((STYLE_MARKER, weight))
            if piece:
                out.append((piece, weight))
    return out


def _vectors_per_encoder(
    style: dict[str, Tensor] | None, encoders: list[Any]
) -> list[Tensor | None]:
    if style is None:
        return [None] * len(encoders)
    keys = encoder_keys(encoders)
    missing = [key for key in keys if key not in style]
    if missing:
        raise ValueError(f"style vectors lack {', '.join(missing)} for this pipeline")
    return [style[key] for key in keys]


def _free_placeholder(tokenizer: Any, used: set[int]) -> int:
    """A single-token id the text does not use, below the end id (SD 1.x finds it by argmax)."""
    eos = tokenizer.eos_token_id
    for candidate in _PLACEHOLDER_CANDIDATES:
        ids = tokenizer(candidate, add_special_tokens=False).input_ids
        if len(ids) == 1 and ids[0] not in used and (eos is None or ids[0] < eos):
            return int(ids[0])
    raise ValueError("the prompt uses every placeholder symbol; remove some of * ~ ^ | # $")


def _maybe_injected(encoder: Any, injection: Injection | None) -> Any:
    if injection is None:
        return injected({})
    return injected({install(encoder): injection})


def _fresh(injection: Injection | None) -> Injection | None:
    if injection is None:
        return None
    return Injection(mask=None, vectors=injection.vectors, placeholder=injection.placeholder)


def _within_budget(states: Tensor, window: int, *, keep_last: bool) -> Tensor:
    """The first ``MAX_CHUNKS`` chunks; with a style token (always at the end of the text) the
    chunk holding it replaces the last one kept, so the token is never cut away."""
    budget = MAX_CHUNKS * window
    if states.shape[1] <= budget:
        return states
    if keep_last:
        return torch.cat([states[:, : budget - window], states[:, -window:]], dim=1)
    return states[:, :budget]


def _pad(states: Tensor, width: int, empty: Tensor) -> Tensor:
    """``states`` followed by empty-prompt chunks up to ``width`` tokens (compel's padding)."""
    chunks = (width - states.shape[1]) // empty.shape[1]
    return torch.cat([states, empty.expand(states.shape[0], -1, -1).repeat(1, chunks, 1)], dim=1)
