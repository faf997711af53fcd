"""Textual inversion: learn a style token (K vectors per text encoder) from a person's images.

The recipe is diffusers' ``examples/textual_inversion/textual_inversion.py`` (the seed paper's
method): the ordinary diffusion loss on "a painting in the style of <style>"-like prompts, with
the VAE, UNet and every other weight of the text encoder(s) frozen, AdamW on the token's rows,
noise ε ~ N(0, I), t ~ U{0, T−1}, x_t from the training scheduler, target ε (or v).

Two changes, both for sharing one pipeline with live requests and for speed:
- the rows are a PRIVATE tensor injected at the placeholder's positions
  (``generation.style_inject``), so the shared embedding matrix is never written — there is
  nothing to "restore after each step", and nothing to undo after a failure;
- the VAE posterior (mean, std) of every image is computed once; each step samples from it and
  takes a random crop/flip of the latent (the VAE is close to translation/flip equivariant),
  instead of encoding the image again (1.08 TFLOP per 512² sample, more than the UNet).
Training stops early when the loss stops falling (a plateau of the windowed mean).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from diffusers import DDPMScheduler
from PIL import Image
from torch import Tensor

from generation.encoding import PipelineTextEncoder, SDPipeline, TextEmbeddings
from generation.errors import InvalidGenerationRequest
from generation.style_inject import STYLE_MARKER, encoder_keys
from generation.tokenizing import tokenize
from preference_store.models import Category, Profile
from preference_store.styles import (
    DEFAULT_TRAINED_VECTORS,
    DEFAULT_TRAINING_LR,
    DEFAULT_TRAINING_STEPS,
    MAX_TRAINED_VECTORS,
    MAX_TRAINING_IMAGES,
    MAX_TRAINING_LR,
    MAX_TRAINING_STEPS,
)

ProgressCallback = Callable[[int, float], None]
"""Called after each step with (step, loss)."""
StopCheck = Callable[[], bool]
"""Asked before each step; True stops training and keeps the vectors learned so far."""

MIN_IMAGES = 1
MAX_IMAGES = MAX_TRAINING_IMAGES  # what a stored record may name

# Style prompts in the manner of the reference's ``imagenet_style_templates_small``.
STYLE_TEMPLATES = (
    "a painting in the style of {}",
    "a rendering in the style of {}",
    "a cropped painting in the style of {}",
    "a clean picture in the style of {}",
    "a dark picture in the style of {}",
    "a bright picture in the style of {}",
    "a picture in the style of {}",
    "a close-up picture in the style of {}",
    "a small picture in the style of {}",
    "a large picture in the style of {}",
    "an image in the style of {}",
    "artwork in the style of {}",
)
FALLBACK_INIT_WORD = "style"


@dataclass(frozen=True)
class TrainingConfig:
    """Defaults chosen for a usable token fast (docs/design.md, "Style tokens"; docs/benchmarks.md).

    The reference trains ~3,000 steps at lr 5e-4 × 4 (batch 1, 4 accumulation steps). Style
    tokens converge far sooner; lr 5e-3 (the seed paper's base rate) with early stopping ends
    most runs in a few hundred steps.
    """

    steps: int = DEFAULT_TRAINING_STEPS
    vectors: int = DEFAULT_TRAINED_VECTORS
    lr: float = DEFAULT_TRAINING_LR
    weight_decay: float = 1e-2
    batch_size: int = 1
    seed: int = 0
    flip_p: float = 0.5
    plateau_window: int = 50
    plateau_tolerance: float = 0.01
    plateau_patience: int = 3
    min_steps: int = 150

    def check(self) -> TrainingConfig:
        if not 1 <= self.steps <= MAX_TRAINING_STEPS:
            raise InvalidGenerationRequest(f"steps must be between 1 and {MAX_TRAINING_STEPS}")
        if not 1 <= self.vectors <= MAX_TRAINED_VECTORS:
            raise InvalidGenerationRequest(f"vectors must be between 1 and {MAX_TRAINED_VECTORS}")
        if not (0.0 < self.lr <= MAX_TRAINING_LR) or not math.isfinite(self.lr):
            raise InvalidGenerationRequest(f"lr must be a number in (0, {MAX_TRAINING_LR:g}]")
        if not 1 <= self.batch_size <= 16:
            raise InvalidGenerationRequest("batch_size must be between 1 and 16")
        return self


@dataclass
class TrainingResult:
    """The learned vectors per encoder (``clip_l``/``clip_g`` → [K, D]) and how training went."""

    vectors: dict[str, Tensor]
    init_word: str
    steps: int
    losses: list[float]
    stopped_early: bool = False
    cancelled: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


ImageSource = Image.Image | Callable[[int], Image.Image]
"""An image, or what opens one at a short side of (at least) the given size."""


@dataclass(frozen=True)
class TrainingImage:
    """One image to learn from; an opener is called once, when its latents are made, so the
    decoded images are never all in memory at once."""

    image: ImageSource
    weight: float = 1.0

    def load(self, size: int) -> Image.Image:
        return self.image(size) if callable(self.image) else self.image


def choose_init_word(profile: Profile | None, tokenizer: object) -> str:
    """A word from the profile's strongest liked style attribute, one token if any (else "style").

    Starting near a word the person's taste already names shortens training, as the seed paper
    does with a coarse descriptor of the concept.
    """
    if profile is None:
        return FALLBACK_INIT_WORD
    liked = [a for a in profile.liked() if a.category is not Category.SUBJECT and a.strength > 0.0]
    liked.sort(key=lambda a: (-a.strength, a.text))
    words = [
        word
        for attribute in liked
        for word in (w.strip(".,;:!?").lower() for w in reversed(attribute.text.split()))
        if word.isalpha()
    ]
    for word in words:
        if len(tokenize(tokenizer, word, add_special_tokens=False).input_ids) == 1:
            return word
    if words:  # no one-token word: the strongest one (its first token seeds the rows)
        return words[0]
    return FALLBACK_INIT_WORD


def native_resolution(pipeline: SDPipeline) -> int:
    return int(pipeline.unet.config.sample_size) * int(pipeline.vae_scale_factor)


def check_images(images: Sequence[TrainingImage]) -> None:
    if not MIN_IMAGES <= len(images) <= MAX_IMAGES:
        raise InvalidGenerationRequest(
            f"training needs {MIN_IMAGES} to {MAX_IMAGES} images, got {len(images)}"
        )


class _LatentBank:
    """VAE posteriors of the training images at native resolution (short side), cached once."""

    def __init__(self, pipeline: SDPipeline, images: Sequence[TrainingImage], size: int) -> None:
        vae = pipeline.vae
        self.scaling = float(vae.config.scaling_factor)
        self.latent_size = size // int(pipeline.vae_scale_factor)
        self.means: list[Tensor] = []
        self.stds: list[Tensor] = []
        weights = [max(float(item.weight), 1e-6) for item in images]
        self.weights = [w / sum(weights) for w in weights]
        with torch.no_grad():
            for item in images:  # one decoded image at a time
                pixels = _to_pixels(item.load(size), size).to(vae.device, vae.dtype)
                posterior = vae.encode(pixels).latent_dist
                self.means.append(posterior.mean)
                self.stds.append(posterior.std)

    def sample(self, rng: random.Random, generator: torch.Generator, flip_p: float) -> Tensor:
        index = rng.choices(range(len(self.means)), weights=self.weights)[0]
        mean, std = self.means[index], self.stds[index]
        height, width = mean.shape[-2:]
        top = rng.randint(0, height - self.latent_size)
        left = rng.randint(0, width - self.latent_size)
        window = (..., slice(top, top + self.latent_size), slice(left, left + self.latent_size))
        mean, std = mean[window], std[window]
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype).to(mean.device)
        latent = (mean + std * noise) * self.scaling
        if rng.random() < flip_p:
            latent = latent.flip(-1)
        return latent


def _to_pixels(image: Image.Image, size: int) -> Tensor:
    """RGB, short side resized to ``size`` (bicubic, as the reference), scaled to [-1, 1]."""
    image = image.convert("RGB")
    scale = size / min(image.size)
    width = max(size, round(image.width * scale))
    height = max(size, round(image.height * scale))
    image = image.resize((width, height), Image.Resampling.BICUBIC)
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)


def train_style_token(
    pipeline: SDPipeline,
    images: Sequence[TrainingImage],
    *,
    config: TrainingConfig | None = None,
    init_word: str = FALLBACK_INIT_WORD,
    progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> TrainingResult:
    """Learn the token's vectors; the pipeline's modules are only read, never written."""
    config = (config or TrainingConfig()).check()
    check_images(images)
    started = time.perf_counter()
    text = PipelineTextEncoder(pipeline)
    encoders = text.encoders
    size = native_resolution(pipeline)
    bank = _LatentBank(pipeline, images, size)

    rows = {
        key: row.requires_grad_(True)
        for key, row in initial_vectors(pipeline, init_word, config.vectors).items()
    }
    optimizer = torch.optim.AdamW(
        list(rows.values()),
        lr=config.lr,
        betas=(0.9, 0.999),
        weight_decay=config.weight_decay,
        eps=1e-8,
    )
    prompts = [
        text.style_inputs(template.format(STYLE_MARKER), config.vectors)
        for template in STYLE_TEMPLATES
    ]
    scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)
    train_steps = int(scheduler.config.num_train_timesteps)
    prediction = scheduler.config.prediction_type
    unet = pipeline.unet
    rng = random.Random(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    added = _sdxl_time_ids(size, config.batch_size) if text.sdxl else None

    result = TrainingResult(vectors={}, init_word=init_word, steps=0, losses=[])
    plateaus = 0
    for step in range(1, config.steps + 1):
        if should_stop is not None and should_stop():
            result.cancelled = True
            result.notes.append(f"cancelled before step {step}")
            break
        latents = torch.cat(
            [bank.sample(rng, generator, config.flip_p) for _ in range(config.batch_size)]
        )
        noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype)
        timesteps = torch.randint(0, train_steps, (latents.shape[0],), generator=generator)
        noisy = scheduler.add_noise(latents, noise, timesteps)
        chosen = [prompts[rng.randrange(len(prompts))] for _ in range(config.batch_size)]
        inputs = [
            (
                torch.cat([c[i][0] for c in chosen]),
                torch.cat([c[i][1] for c in chosen]),
            )
            for i in range(len(encoders))
        ]
        cond = text.encode_ids(inputs, rows, grad=True)
        pred = _predict(unet, noisy, timesteps, cond, added)
        target = (
            noise if prediction == "epsilon" else scheduler.get_velocity(latents, noise, timesteps)
        )
        loss = torch.nn.functional.mse_loss(pred.float(), target.float())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        result.losses.append(value)
        result.steps = step
        if progress is not None:
            progress(step, value)
        if _plateaued(result.losses, config):
            plateaus += 1
            if plateaus >= config.plateau_patience:
                result.stopped_early = True
                result.notes.append(f"loss plateau: stopped after {step} steps")
                break
        elif len(result.losses) % config.plateau_window == 0:
            plateaus = 0

    result.vectors = {key: row.detach().clone() for key, row in rows.items()}
    result.seconds = time.perf_counter() - started
    return result


def _predict(
    unet: Any,
    noisy: Tensor,
    timesteps: Tensor,
    cond: TextEmbeddings,
    added: Tensor | None,
) -> Tensor:
    kwargs: dict[str, Any] = {}
    if added is not None:
        assert cond.pooled is not None
        kwargs["added_cond_kwargs"] = {"text_embeds": cond.pooled, "time_ids": added}
    dtype = next(unet.parameters()).dtype
    return unet(noisy.to(dtype), timesteps, cond.hidden.to(dtype), **kwargs).sample


def probe_loss(
    pipeline: SDPipeline,
    images: Sequence[TrainingImage],
    vectors: dict[str, Tensor],
    *,
    samples: int = 32,
    seed: int = 1234,
) -> float:
    """The training loss on a FIXED set of (image, crop, noise, t, template): comparable
    between two sets of vectors, unlike the per-step loss, which t's randomness dominates."""
    text = PipelineTextEncoder(pipeline)
    size = native_resolution(pipeline)
    bank = _LatentBank(pipeline, images, size)
    scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)
    rng = random.Random(seed)
    generator = torch.Generator().manual_seed(seed)
    added = _sdxl_time_ids(size, 1) if text.sdxl else None
    total = 0.0
    with torch.no_grad():
        for _ in range(samples):
            latents = bank.sample(rng, generator, 0.5)
            noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype)
            t = torch.randint(
                0, int(scheduler.config.num_train_timesteps), (1,), generator=generator
            )
            template = STYLE_TEMPLATES[rng.randrange(len(STYLE_TEMPLATES))]
            cond = text.encode_with_style(template.format(STYLE_MARKER), vectors)
            pred = _predict(pipeline.unet, scheduler.add_noise(latents, noise, t), t, cond, added)
            target = (
                noise
                if scheduler.config.prediction_type == "epsilon"
                else scheduler.get_velocity(latents, noise, t)
            )
            total += float(torch.nn.functional.mse_loss(pred.float(), target.float()))
    return total / samples


def initial_vectors(pipeline: SDPipeline, init_word: str, count: int) -> dict[str, Tensor]:
    """The rows training starts from: the init word's embedding, K times, per encoder."""
    text = PipelineTextEncoder(pipeline)
    rows: dict[str, Tensor] = {}
    for key, encoder, tokenizer in zip(
        encoder_keys(text.encoders), text.encoders, text.tokenizers, strict=True
    ):
        ids = tokenize(tokenizer, init_word, add_special_tokens=False).input_ids
        table = encoder.get_input_embeddings().weight
        rows[key] = table[ids[0]].detach().to(torch.float32).clone().repeat(count, 1)
    return rows


def _plateaued(losses: list[float], config: TrainingConfig) -> bool:
    """True at a window boundary when the windowed mean fell by less than the tolerance."""
    window = config.plateau_window
    if len(losses) < max(config.min_steps, 2 * window) or len(losses) % window:
        return False
    recent = sum(losses[-window:]) / window
    before = sum(losses[-2 * window : -window]) / window
    return before - recent < config.plateau_tolerance * before


def _sdxl_time_ids(size: int, batch: int) -> Tensor:
    """SDXL's micro-conditioning: original size, crop (0, 0), target size."""
    return torch.tensor([[size, size, 0, 0, size, size]], dtype=torch.float32).repeat(batch, 1)
