"""PALP — prompt-aligned personalization (Arar et al., SIGGRAPH Asia 2024, arXiv 2401.06105).

PALP fine-tunes a model for *one* target prompt, so the result keeps both the person's style and
everything the prompt asks for. No public implementation exists; this module is written from the
paper and the project's design (``docs/design.md``, "PALP"). Mapping from the paper to the code:

=====================================  ==========================================================
paper                                  here
=====================================  ==========================================================
tuned parameters θ                     a LoRA (rank ``PalpSettings.rank``, default 32) on the
                                       UNet attention projections ``to_q/to_k/to_v/to_out.0``,
                                       through ``peft`` (``generation.palp_adapters``); the text
                                       encoder and every base weight stay frozen
[V], the personalization token         the person's style token, injected into the prompt
                                       embeddings by the caller (``PalpConditioning``)
y_P ("... [V]")                        ``PalpConditioning.personalization``
y_c (target prompt, [V] -> a word)     ``PalpConditioning.target``
L_pers = ‖ε_θ(x_t, t, y_P) − ε‖²       ``personalization_loss``
x̂₀ = (x_t − √(1−ᾱ_t)·ε_θ) / √ᾱ_t       ``predicted_x0`` (with the same ε_θ as L_pers)
x̂_t, re-noised with the same ε         ``add_noise(x̂₀.detach(), ε, ᾱ_t)``
ε^α_φ(x̂_t, y_c): pretrained, CFG α     ``guided`` over the UNet with the adapter *disabled*
ε^β_θ(x̂_t, y_P): adapted, CFG β        ``guided`` over the UNet with the adapter enabled, on
                                       the target prompt with [V] (``PalpConditioning.adapted``)
∇ = w(t)(ε^α_φ − ε^β_θ)·∂x̂₀/∂θ         ``alignment_surrogate``: Σ w·stop_grad(bracket)·x̂₀ / B,
                                       whose autograd gradient is exactly ∇ (a test checks it
                                       against the formula); w(t) = 1 − ᾱ_t as in score
                                       distillation (DreamFusion's choice)
α > β (15 / 7.5; composition 7.5 / 1)  ``PalpSettings.alpha`` / ``beta``, checked α > β
500 steps, lr 5e-5 (batch 32 on TPU)   defaults ``steps=500``, ``learning_rate=5e-5``; batch 1
=====================================  ==========================================================

Why α > β: the bracket pulls the adapted model's β-guided prediction towards the pretrained
model's *stronger* α-guided prediction for the target prompt. With α ≤ β the pretrained side
carries no more prompt information than the adapted side, and the term stops aligning (at α = β
with the adapter not yet trained it is exactly zero) — so the settings refuse it.

Cost per step (sample-forwards of the UNet): the personalization forward and its backward to the
LoRA (≈ 2–3), the pretrained CFG pair (2, one batched call) and the adapted CFG pair (2, one
batched call). ``bench/palp.py`` measures it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 (torch's own convention)
from torch import Tensor

from generation.encoding import TextEmbeddings
from generation.errors import InvalidGenerationRequest
from generation.palp_adapters import attached_lora, lora_state_dict
from generation.palp_settings import PalpSettings

PalpProgress = Callable[[int, int, float, float], None]
"""Called after each step with (step, total, personalization loss, alignment loss)."""


# -- 1. Loss terms: pure functions over tensors -------------------------------------------------


def add_noise(x0: Tensor, noise: Tensor, alpha_bar: Tensor) -> Tensor:
    """x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε (DDPM forward process; ``alpha_bar`` broadcast per sample)."""
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise


def predicted_x0(x_t: Tensor, eps: Tensor, alpha_bar: Tensor) -> Tensor:
    """x̂₀ = (x_t − √(1−ᾱ_t)·ε) / √ᾱ_t: the clean sample the noise prediction implies."""
    return (x_t - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()


def guided(eps_uncond: Tensor, eps_cond: Tensor, scale: float) -> Tensor:
    """Classifier-free guidance: ε_u + s·(ε_c − ε_u)."""
    return eps_uncond + scale * (eps_cond - eps_uncond)


def alignment_weight(alpha_bar: Tensor) -> Tensor:
    """w(t) = 1 − ᾱ_t: small where the sample is almost clean, as in score distillation."""
    return 1 - alpha_bar


def personalization_loss(eps_pred: Tensor, noise: Tensor) -> Tensor:
    """‖ε_θ(x_t, t, y_P) − ε‖², averaged over elements (the diffusion loss)."""
    return F.mse_loss(eps_pred.float(), noise.float())


def alignment_surrogate(x0_hat: Tensor, direction: Tensor, weight: Tensor) -> Tensor:
    """A loss whose gradient w.r.t. θ is w(t)·direction·∂x̂₀/∂θ (summed, averaged over the batch).

    ``direction`` is the bracket ε^α_pretrained − ε^β_adapted; it is detached, so the backward
    pass goes only through x̂₀ — the score-distillation trick that skips the UNet Jacobian of the
    bracket. The value itself means nothing; its gradient is the point.
    """
    return (weight * direction.detach() * x0_hat).sum() / x0_hat.shape[0]


# -- 2. The training loop -----------------------------------------------------------------------


@dataclass(frozen=True)
class PalpConditioning:
    """The text conditionings PALP reads, each already encoded (token injected by the caller).

    ``personalization`` is y_P of the personalization loss ("an image in the style of [V]");
    ``adapted`` is the target prompt with [V], which the adapted branch of the alignment term
    reads (the paper's ε_θ(x̂_t, y_P) for its target prompt; defaults to ``personalization``);
    ``target`` is y_c, the target prompt with [V] replaced by a plain word."""

    personalization: TextEmbeddings
    target: TextEmbeddings
    unconditional: TextEmbeddings
    adapted: TextEmbeddings | None = None


@dataclass
class PalpResult:
    """The trained adapter (a peft state dict, a few MB at rank 32 on SD 1.5) and its losses."""

    adapter: dict[str, Tensor]
    rank: int
    steps_done: int
    personalization_losses: list[float] = field(default_factory=list)
    alignment_losses: list[float] = field(default_factory=list)
    stopped: bool = False


class _UNetCaller:
    """Calls a SD 1.x or SDXL UNet on a batch of conditionings (SDXL needs pooled + time ids)."""

    def __init__(self, unet: Any, *, sdxl: bool, image_size: tuple[int, int]) -> None:
        self._unet = unet
        self._sdxl = sdxl
        height, width = image_size
        self._time_ids = [height, width, 0, 0, height, width]

    def __call__(self, sample: Tensor, timestep: Tensor, conds: list[TextEmbeddings]) -> Tensor:
        repeat = sample.shape[0] // len(conds)
        hidden = torch.cat([c.hidden for c in conds]).repeat_interleave(repeat, dim=0)
        kwargs: dict[str, Any] = {}
        if self._sdxl:
            pooled = torch.cat([_pooled(c) for c in conds]).repeat_interleave(repeat, dim=0)
            time_ids = torch.tensor([self._time_ids] * sample.shape[0], dtype=hidden.dtype)
            kwargs["added_cond_kwargs"] = {"text_embeds": pooled, "time_ids": time_ids}
        timesteps = timestep.expand(sample.shape[0])
        return self._unet(sample, timesteps, encoder_hidden_states=hidden, **kwargs).sample


def _pooled(embeddings: TextEmbeddings) -> Tensor:
    if embeddings.pooled is None:
        raise InvalidGenerationRequest("SDXL conditioning needs pooled text embeddings")
    return embeddings.pooled


def train_palp_adapter(
    *,
    unet: Any,
    scheduler: Any,
    latents: Tensor,
    conditioning: PalpConditioning,
    settings: PalpSettings,
    sdxl: bool = False,
    image_size: tuple[int, int] | None = None,
    progress: PalpProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PalpResult:
    """Trains a LoRA for one target prompt on ``latents`` (the liked images, VAE-encoded).

    The adapter lives on the shared UNet only inside this call (``attached_lora``) and is removed
    afterwards, on success, stop or exception; the caller's job system keeps other generations
    off this pipeline meanwhile. Returns the adapter's weights to cache and apply at generation.
    """
    if latents.ndim != 4 or latents.shape[0] == 0:
        raise InvalidGenerationRequest("PALP needs at least one liked image (latents [N, C, H, W])")
    result = PalpResult(adapter={}, rank=settings.rank, steps_done=0)
    if settings.steps == 0:
        return result
    size = image_size or (latents.shape[-2] * 8, latents.shape[-1] * 8)
    call = _UNetCaller(unet, sdxl=sdxl, image_size=size)
    alphas_cumprod = scheduler.alphas_cumprod.to(latents.device, torch.float32)
    train_steps = int(scheduler.config.num_train_timesteps)
    generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    picker = random.Random(settings.seed)
    with attached_lora(unet, rank=settings.rank, seed=settings.seed) as trainable:
        optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.0)
        for step in range(1, settings.steps + 1):
            if should_stop is not None and should_stop():
                result.stopped = True
                break
            # Stage 1: a liked image, fresh noise and a timestep, as in DreamBooth/TI training.
            x0 = latents[picker.randrange(latents.shape[0])].unsqueeze(0)
            noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
            t = torch.randint(0, train_steps, (1,), generator=generator)
            alpha_bar = alphas_cumprod[t].view(-1, 1, 1, 1).to(x0.dtype)
            x_t = add_noise(x0, noise, alpha_bar)
            # Stage 2: personalization loss with the adapter, and the x̂₀ it implies.
            eps = call(x_t, t, [conditioning.personalization])
            loss_pers = personalization_loss(eps, noise)
            x0_hat = predicted_x0(x_t, eps, alpha_bar)
            # Stage 3: the bracket on x̂_t (same noise), with no gradient through either branch.
            x_hat_t = add_noise(x0_hat.detach(), noise, alpha_bar)
            pair = torch.cat([x_hat_t, x_hat_t])
            with torch.no_grad():
                unet.disable_adapters()
                try:
                    uncond_p, cond_p = call(
                        pair, t, [conditioning.unconditional, conditioning.target]
                    ).chunk(2)
                finally:
                    unet.enable_adapters()
                adapted = conditioning.adapted or conditioning.personalization
                uncond_a, cond_a = call(pair, t, [conditioning.unconditional, adapted]).chunk(2)
            direction = guided(uncond_p, cond_p, settings.alpha) - guided(
                uncond_a, cond_a, settings.beta
            )
            loss_align = alignment_surrogate(x0_hat, direction, alignment_weight(alpha_bar))
            # Stage 4: one backward for both terms, one optimizer step on the LoRA only.
            optimizer.zero_grad(set_to_none=True)
            (loss_pers + settings.alignment_weight * loss_align).backward()
            optimizer.step()
            result.steps_done = step
            result.personalization_losses.append(float(loss_pers.detach()))
            result.alignment_losses.append(float(loss_align.detach()))
            if progress is not None:
                progress(
                    step,
                    settings.steps,
                    result.personalization_losses[-1],
                    result.alignment_losses[-1],
                )
        result.adapter = lora_state_dict(unet)
    return result
