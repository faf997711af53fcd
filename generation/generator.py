"""``PersonalizedGenerator``: a prompt and a profile in, images in that person's taste out.

One shared pipeline (and CLIP model) serves every user; per request only a conditioning plan,
a few text embeddings and (with aesthetic gradients) transient weight deltas are made. Stages
1–3 (check, plan, encode) are here; a call runs them and the denoising through
``generation.batched`` as a batch of one, so one request alone and one among others go the same
way (docs/design.md, "One denoising path").
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import torch
from torch import Tensor

from generation.aesthetic_gradients import AestheticTuner
from generation.batched import BatchItem, generate_batch
from generation.cache import LRUCache
from generation.clip import ClipBundle
from generation.encoding import PipelineTextEncoder, SDPipeline, TextEmbeddings, pad_to
from generation.errors import InvalidGenerationRequest
from generation.ip_adapter import StyleAdapter
from generation.plan import ConditioningPlan, place_style, plan_conditioning, token_counter
from generation.result import (
    OUTPUT_TYPES,
    AestheticReport,
    Conditioning,
    GenerationResult,
    StageTimer,
    StepCallback,
)
from generation.settings import (
    ConditioningMode,
    GenerationSettings,
    check_prompt,
)
from generation.style_inject import STYLE_MARKER, encoder_keys
from generation.style_refs import StyleReferences
from generation.style_token import StyleToken
from preference_store.models import Profile


class PersonalizedGenerator:
    """Renders prompts in a person's taste with one shared SD 1.x / SDXL pipeline.

    ``clip`` (the CLIP model matching the pipeline's text encoder) enables aesthetic gradients;
    without it they are skipped and the result says so. Text-encoder use is serialized by a lock
    (aesthetic gradients evaluate the shared encoder with swapped-in tensors for a moment, and
    fast tokenizers keep per-call padding state); denoising runs outside it, concurrently.
    """

    def __init__(
        self,
        pipeline: SDPipeline,
        *,
        clip: ClipBundle | None = None,
        model_name: str = "",
        cache: LRUCache[Conditioning] | None = None,
        style_adapter: StyleAdapter | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.style_adapter = style_adapter  # IP-Adapter for style references (batched.py)
        self.text = PipelineTextEncoder(pipeline)
        self.clip = clip
        self.model_name = model_name or type(pipeline).__name__
        self.cache: LRUCache[Conditioning] = cache if cache is not None else LRUCache(64)
        # Untuned encodings by text (negative prompts, VP+/VP− lists recur across prompts).
        self.text_cache: LRUCache[TextEmbeddings] = LRUCache(128)
        self.count_tokens = token_counter(*self.text.tokenizers)
        self.token_window = int(pipeline.tokenizer.model_max_length)
        self.tuner = (
            AestheticTuner(pipeline.text_encoder, pipeline.tokenizer, clip.projection)
            if clip is not None
            else None
        )
        self._encoder_lock = threading.RLock()

    def __call__(
        self,
        prompt: str,
        profile: Profile,
        *,
        settings: GenerationSettings | None = None,
        negative_prompt: str = "",
        aesthetic_embedding: Tensor | None = None,
        on_step: StepCallback | None = None,
        output_type: str = "pil",
        style: StyleToken | None = None,
        negative_style: StyleToken | None = None,
        references: StyleReferences | None = None,
    ) -> GenerationResult:
        item = BatchItem(
            prompt,
            profile,
            settings or GenerationSettings(),
            negative_prompt=negative_prompt,
            aesthetic_embedding=aesthetic_embedding,
            on_step=on_step,
            style=style,
            negative_style=negative_style,
            references=references,
        )
        # A lone request is a batch of one: the CLI and every worker run the same stages.
        (outcome,) = generate_batch(self, [item], output_type=output_type)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    # -- stages ------------------------------------------------------------------------------

    def condition(
        self,
        laps: StageTimer,
        prompt: str,
        profile: Profile,
        settings: GenerationSettings,
        *,
        negative_prompt: str = "",
        aesthetic_embedding: Tensor | None = None,
        style: StyleToken | None = None,
        negative_style: StyleToken | None = None,
        output_type: str = "pil",
    ) -> tuple[ConditioningPlan, Conditioning, bool]:
        """Stages 1–3 of one request: its plan, its conditioning and whether that came from
        the cache (shared by ``__call__`` and batches, so both fill and hit the same entries).
        Times the stages ``check``, ``plan`` and ``encode`` on ``laps``."""
        # 1. Check inputs: nothing below runs on a request that is out of bounds.
        prompt, negative_prompt = self.check_inputs(prompt, profile, settings, negative_prompt)
        if output_type not in OUTPUT_TYPES:
            raise InvalidGenerationRequest(f"output_type must be one of {', '.join(OUTPUT_TYPES)}")
        embedding = self._aesthetic_embedding(profile, aesthetic_embedding, settings)
        style = self.check_style(style, settings.style_weight, negative=False)
        negative_style = self.check_style(
            negative_style, settings.negative_style_weight, negative=True
        )
        laps.lap("check")

        # 2. Plan the conditioning: which attributes, in which order, and why; where the
        #    learned tokens go.
        plan = self.plan(prompt, profile, negative_prompt)
        plan = place_style(
            plan,
            token=style.describe() if style else None,
            negative_token=negative_style.describe() if negative_style else None,
            marker=STYLE_MARKER,
        )
        laps.lap("plan")

        # 3. Encode prompt, negative prompt, VP+ and VP− (aesthetic steps on the prompt) and
        #    the prompts with the learned tokens.
        key = (
            *self._cache_key(profile, plan, settings, embedding),
            style.digest() if style else None,
            negative_style.digest() if negative_style else None,
        )
        conditioning = self.cache.get(key)
        cached = conditioning is not None
        if conditioning is None:
            conditioning = self.encode(
                plan, settings, embedding, laps.timings, style, negative_style
            )
            self.cache.put(key, conditioning)
        laps.lap("encode")
        return plan, conditioning, cached

    def plan(self, prompt: str, profile: Profile, negative_prompt: str = "") -> ConditioningPlan:
        """The conditioning plan for this pipeline's tokenizer(s) (no model runs).

        Under the encoder lock: a fast tokenizer keeps its padding/truncation mode as state
        between calls, so concurrent calls with different modes must not interleave.
        """
        with self._encoder_lock:
            return plan_conditioning(
                prompt,
                profile.attributes,
                count_tokens=self.count_tokens,
                count_chunks=self.text.count_chunks,
                negative_prompt=negative_prompt,
                token_window=self.token_window,
            )

    def check_inputs(
        self,
        prompt: str,
        profile: Profile,
        settings: GenerationSettings,
        negative_prompt: str,
    ) -> tuple[str, str]:
        """Refuse bad input with a message that says what to change; touches no model."""
        if not isinstance(settings, GenerationSettings):
            raise InvalidGenerationRequest("settings must be a GenerationSettings")
        if not isinstance(profile, Profile):
            raise InvalidGenerationRequest("profile must be a preference_store Profile")
        prompt = check_prompt(prompt)
        negative_prompt = check_prompt(negative_prompt, what="negative prompt", allow_empty=True)
        if settings.mode == ConditioningMode.GUIDANCE and settings.guidance_scale <= 1.0:
            raise InvalidGenerationRequest(
                "guidance mode adds ViPer's terms to classifier-free guidance: use a guidance "
                "scale above 1"
            )
        return prompt, negative_prompt

    def check_style(
        self, token: StyleToken | None, weight: float, *, negative: bool
    ) -> StyleToken | None:
        """The token to use (None when absent or weighted 0); refuses one for another model."""
        if token is None or weight == 0.0:
            return None
        if token.negative != negative:
            which = "negative" if token.negative else "positive"
            raise InvalidGenerationRequest(f"token {token.token_id} is a {which} style token")
        keys = encoder_keys(self.text.encoders)
        for part, _weight in token.parts():  # each token of a blend
            if set(part.vectors) != set(keys):
                raise InvalidGenerationRequest(
                    f"token {part.token_id} was made for a model with encoder(s) "
                    f"{', '.join(sorted(part.vectors))}; this model has {', '.join(keys)}"
                )
            for key, encoder in zip(keys, self.text.encoders, strict=True):
                width = int(encoder.get_input_embeddings().weight.shape[1])
                shape = tuple(part.vectors[key].shape)
                if len(shape) != 2 or shape[1] != width:
                    raise InvalidGenerationRequest(
                        f"token {part.token_id} has {key} vectors of shape {shape}; "
                        f"this model needs [K, {width}]"
                    )
        return token

    def _aesthetic_embedding(
        self, profile: Profile, explicit: Tensor | None, settings: GenerationSettings
    ) -> Tensor | None:
        if settings.aesthetic_steps == 0:
            return None
        if explicit is None and self.clip is not None:
            stored = profile.aesthetic_embeddings.get(self.clip.name)
            explicit = torch.tensor(stored, dtype=torch.float32) if stored else None
        if explicit is None or self.tuner is None:
            return None
        return self.tuner.check_embedding(explicit)

    def encode(
        self,
        plan: ConditioningPlan,
        settings: GenerationSettings,
        embedding: Tensor | None,
        timings: dict[str, float] | None = None,
        style: StyleToken | None = None,
        negative_style: StyleToken | None = None,
    ) -> Conditioning:
        """Text embeddings for the plan; the prompt with aesthetic-tuned weights if asked."""
        with self._encoder_lock:
            overrides = None
            report = self._aesthetic_skip_reason(settings, embedding)
            if report is None and embedding is not None and self.tuner is not None:
                started = time.perf_counter()
                overrides, similarities = self.tuner.tune(
                    plan.prompt,
                    embedding,
                    steps=settings.aesthetic_steps,
                    lr=settings.aesthetic_lr,
                    layers=settings.aesthetic_layers,
                )
                after = self.tuner.similarity(plan.prompt, embedding, overrides)
                report = AestheticReport(
                    applied=True,
                    note=f"{settings.aesthetic_steps} Adam steps, lr {settings.aesthetic_lr:g}",
                    steps=settings.aesthetic_steps,
                    similarity_before=similarities[0],
                    similarity_after=after,
                )
                if timings is not None:
                    timings["aesthetic"] = time.perf_counter() - started
            assert report is not None
            vp_needed = settings.vp_degree > 0.0
            prompt = self.text.encode(plan.prompt, overrides=overrides)
            negative = self._encode_cached(plan.negative_prompt, negative=True)
            styled = negative_styled = None
            if style is not None and plan.style_prompt:
                styled = self._styled(plan.style_prompt, style, prompt, overrides)
            if negative_style is not None and plan.negative_style_prompt:
                negative_styled = self._styled(
                    plan.negative_style_prompt, negative_style, negative, None
                )
            return _same_length(
                self.text.empty_chunk(),
                prompt=prompt,
                negative=negative,
                liked=self._encode_cached(plan.positive_weighted)
                if vp_needed and plan.positive_weighted
                else None,
                disliked=self._encode_cached(plan.negative_weighted)
                if vp_needed and plan.negative_weighted
                else None,
                aesthetic=report,
                styled=styled,
                negative_styled=negative_styled,
            )

    def _styled(
        self, text: str, token: StyleToken, base: TextEmbeddings, overrides: Any
    ) -> TextEmbeddings:
        """``E(text with the token)``; for a blend's tokens ``Σ wᵢ·E(text with tokenᵢ)`` plus
        ``base`` (the text without one) for the weight no token takes, so the style blend
        gives ``E(p) + w·Σ wᵢ·(E(p + tokenᵢ) − E(p))`` (docs/design.md, "Blending")."""
        parts = token.parts()
        if len(parts) == 1 and parts[0][1] == 1.0:
            return self.text.encode_with_style(text, parts[0][0].vectors, overrides=overrides)
        encoded = [
            (self.text.encode_with_style(text, t.vectors, overrides=overrides), w) for t, w in parts
        ]
        rest = 1.0 - sum(w for _, w in parts)
        if rest > 1e-9:
            encoded.append((base, rest))
        tokens = max(e.tokens for e, _ in encoded)
        empty = self.text.empty_chunk()
        padded = [(pad_to(e, tokens, empty), w) for e, w in encoded]
        hidden = torch.stack([e.hidden * w for e, w in padded]).sum(0)
        pooled = None
        if all(e.pooled is not None for e, _ in padded):
            pooled = torch.stack([e.pooled * w for e, w in padded if e.pooled is not None]).sum(0)
        return TextEmbeddings(hidden, pooled)

    def _encode_cached(self, text: str, *, negative: bool = False) -> TextEmbeddings:
        key = (negative, text)
        found = self.text_cache.get(key)
        if found is None:
            found = self.text.encode_negative(text) if negative else self.text.encode(text)
            self.text_cache.put(key, found)
        return found

    def clear_caches(self) -> None:
        """Forget cached conditioning (benchmarks measure the cold path with this)."""
        self.cache.clear()
        self.text_cache.clear()

    def _aesthetic_skip_reason(
        self, settings: GenerationSettings, embedding: Tensor | None
    ) -> AestheticReport | None:
        if settings.aesthetic_steps == 0:
            return AestheticReport(applied=False, note="off (0 aesthetic steps)")
        if self.tuner is None:
            return AestheticReport(applied=False, note="skipped: no CLIP model configured")
        if embedding is None:
            return AestheticReport(
                applied=False, note="skipped: no aesthetic embedding for this CLIP model yet"
            )
        return None

    def _cache_key(
        self,
        profile: Profile,
        plan: ConditioningPlan,
        settings: GenerationSettings,
        embedding: Tensor | None,
    ) -> tuple[object, ...]:
        digest = None
        if embedding is not None:
            digest = hashlib.sha256(embedding.numpy().tobytes()).hexdigest()[:16]
        return (
            id(self.pipeline),
            profile.user_id,
            profile.version,
            plan.prompt,
            plan.negative_prompt,
            plan.positive_weighted,
            plan.negative_weighted,
            settings.cache_key(),
            digest,
        )


def _same_length(empty: TextEmbeddings, **parts: Any) -> Conditioning:
    """A ``Conditioning`` whose encodings all have as many chunks as the longest, padded with
    the empty prompt's: ViPer adds them, CFG stacks prompt and negative, and batches group
    requests by this length (docs/design.md, "Prompt weighting and long prompts")."""
    tokens = max(p.tokens for p in parts.values() if isinstance(p, TextEmbeddings))
    padded: dict[str, Any] = {
        name: pad_to(part, tokens, empty) if isinstance(part, TextEmbeddings) else part
        for name, part in parts.items()
    }
    return Conditioning(**padded)
