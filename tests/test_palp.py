"""PALP: the loss terms against hand computations, and training on real tiny SD pipelines."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from generation.encoding import PipelineTextEncoder, SDPipeline
from generation.errors import InvalidGenerationRequest
from generation.palp import (
    PalpConditioning,
    PalpSettings,
    add_noise,
    alignment_surrogate,
    alignment_weight,
    guided,
    personalization_loss,
    predicted_x0,
    train_palp_adapter,
)
from generation.palp_adapters import AdapterCache, adapter_key, attached_lora
from generation.tiny import build_tiny_sd, build_tiny_sdxl


def test_predicted_x0_inverts_the_forward_process() -> None:
    x0, noise = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    alpha_bar = torch.tensor([0.9, 0.2]).view(-1, 1, 1, 1)
    assert torch.allclose(
        predicted_x0(add_noise(x0, noise, alpha_bar), noise, alpha_bar), x0, atol=1e-5
    )


def test_guidance_is_the_classifier_free_formula() -> None:
    uncond, cond = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 1.0])
    assert torch.equal(guided(uncond, cond, 7.5), torch.tensor([16.0, -5.5]))


def test_surrogate_gradient_equals_the_palp_formula() -> None:
    """∇θ = w(t)·(ε^α − ε^β)·∂x̂₀/∂θ, with ε_θ(x) = θ·x so ∂x̂₀/∂θ = −√(1−ᾱ)·x_t/√ᾱ by hand."""
    torch.manual_seed(0)
    theta = torch.tensor(0.3, requires_grad=True)
    x_t = torch.randn(2, 4, 3, 3)
    alpha_bar = torch.tensor([0.7, 0.4]).view(-1, 1, 1, 1)
    direction = torch.randn(2, 4, 3, 3)
    weight = alignment_weight(alpha_bar)

    x0_hat = predicted_x0(x_t, theta * x_t, alpha_bar)
    alignment_surrogate(x0_hat, direction, weight).backward()

    d_x0_d_theta = -(1 - alpha_bar).sqrt() * x_t / alpha_bar.sqrt()
    by_hand = (weight * direction * d_x0_d_theta).sum() / x_t.shape[0]
    assert theta.grad is not None
    assert torch.allclose(theta.grad, by_hand, rtol=1e-5)


def test_surrogate_sends_no_gradient_through_the_bracket() -> None:
    direction = torch.randn(1, 2, requires_grad=True)
    x0_hat = torch.randn(1, 2, requires_grad=True)
    alignment_surrogate(x0_hat, direction, torch.tensor(1.0)).backward()
    assert direction.grad is None
    assert x0_hat.grad is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps": 2_001}, "steps must be 0..2000"),
        ({"steps": -1}, "steps must be 0..2000"),
        ({"rank": 0}, "rank must be 1..128"),
        ({"alpha": 7.5, "beta": 7.5}, "must be greater than beta"),
        ({"alpha": 1.0, "beta": 7.5}, "must be greater than beta"),
        ({"learning_rate": float("nan")}, "learning rate"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(changes: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidGenerationRequest, match=message):
        PalpSettings(**changes)  # type: ignore[arg-type]


def _conditioning(pipe: SDPipeline) -> PalpConditioning:
    encoder = PipelineTextEncoder(pipe)
    return PalpConditioning(
        personalization=encoder.encode("an image in the style of red"),
        target=encoder.encode("a sketch of a lighthouse, red"),
        unconditional=encoder.encode_negative(""),
    )


def _unet_weights(pipe: SDPipeline) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in pipe.unet.state_dict().items()}


def _assert_untouched(pipe: SDPipeline, before: dict[str, torch.Tensor]) -> None:
    after = pipe.unet.state_dict()
    assert set(after) == set(before), "peft layers were left on the shared UNet"
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not getattr(pipe.unet, "peft_config", None)


def _eval_loss(pipe: SDPipeline, latents: torch.Tensor, conditioning: PalpConditioning) -> float:
    """The personalization loss on fixed (noise, t) draws, with whatever adapter is attached."""
    generator = torch.Generator().manual_seed(123)
    total = 0.0
    with torch.no_grad():
        for t in (100, 400, 700):
            noise = torch.randn(latents.shape, generator=generator)
            alpha_bar = pipe.scheduler.alphas_cumprod[t].view(1, 1, 1, 1)
            x_t = add_noise(latents, noise, alpha_bar)
            hidden = conditioning.personalization.hidden.expand(latents.shape[0], -1, -1)
            eps = pipe.unet(x_t, torch.tensor([t]), encoder_hidden_states=hidden).sample
            total += float(personalization_loss(eps, noise))
    return total


def test_training_lowers_the_personalization_loss_and_leaves_the_unet_untouched() -> None:
    pipe = build_tiny_sd(seed=0)
    before = _unet_weights(pipe)
    conditioning = _conditioning(pipe)
    latents = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    untrained = _eval_loss(pipe, latents, conditioning)
    settings = PalpSettings(steps=60, rank=8, learning_rate=1e-2, alignment_weight=0.0, seed=2)
    seen: list[tuple[int, int]] = []
    result = train_palp_adapter(
        unet=pipe.unet,
        scheduler=pipe.scheduler,
        latents=latents,
        conditioning=conditioning,
        settings=settings,
        progress=lambda step, total, *_: seen.append((step, total)),
    )
    _assert_untouched(pipe, before)
    assert result.steps_done == 60 and seen[-1] == (60, 60)
    with attached_lora(pipe.unet, rank=8, weights=result.adapter):
        trained = _eval_loss(pipe, latents, conditioning)
    _assert_untouched(pipe, before)
    assert trained < untrained * 0.95


def test_alignment_term_is_finite_and_changes_the_adapter() -> None:
    pipe = build_tiny_sd(seed=0)
    conditioning = _conditioning(pipe)
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1))

    def train(weight: float) -> dict[str, torch.Tensor]:
        settings = PalpSettings(steps=5, rank=4, learning_rate=1e-3, alignment_weight=weight)
        result = train_palp_adapter(
            unet=pipe.unet,
            scheduler=pipe.scheduler,
            latents=latents,
            conditioning=conditioning,
            settings=settings,
        )
        assert all(torch.isfinite(torch.tensor(result.alignment_losses)))
        return result.adapter

    without, with_alignment = train(0.0), train(1.0)
    assert any(not torch.equal(without[k], with_alignment[k]) for k in without)


def test_stop_and_failure_mid_training_leave_the_unet_untouched() -> None:
    pipe = build_tiny_sd(seed=0)
    before = _unet_weights(pipe)
    conditioning = _conditioning(pipe)
    latents = torch.randn(1, 4, 8, 8)
    steps: list[int] = []
    stopped = train_palp_adapter(
        unet=pipe.unet,
        scheduler=pipe.scheduler,
        latents=latents,
        conditioning=conditioning,
        settings=PalpSettings(steps=10, rank=4),
        progress=lambda step, *_: steps.append(step),
        should_stop=lambda: len(steps) >= 3,
    )
    assert stopped.stopped and stopped.steps_done == 3
    _assert_untouched(pipe, before)

    def explode(step: int, *_: float) -> None:
        if step == 2:
            raise RuntimeError("worker lost mid-training")

    with pytest.raises(RuntimeError, match="mid-training"):
        train_palp_adapter(
            unet=pipe.unet,
            scheduler=pipe.scheduler,
            latents=latents,
            conditioning=conditioning,
            settings=PalpSettings(steps=10, rank=4),
            progress=explode,
        )
    _assert_untouched(pipe, before)


def test_zero_steps_attach_nothing() -> None:
    pipe = build_tiny_sd(seed=0)
    result = train_palp_adapter(
        unet=pipe.unet,
        scheduler=pipe.scheduler,
        latents=torch.randn(1, 4, 8, 8),
        conditioning=_conditioning(pipe),
        settings=PalpSettings(steps=0),
    )
    assert result.adapter == {} and result.steps_done == 0


def test_no_liked_images_is_refused() -> None:
    pipe = build_tiny_sd(seed=0)
    with pytest.raises(InvalidGenerationRequest, match="at least one liked image"):
        train_palp_adapter(
            unet=pipe.unet,
            scheduler=pipe.scheduler,
            latents=torch.zeros(0, 4, 8, 8),
            conditioning=_conditioning(pipe),
            settings=PalpSettings(steps=1),
        )


def test_sdxl_has_the_lora_targets_and_trains() -> None:
    pipe = build_tiny_sdxl(seed=0)
    before = _unet_weights(pipe)
    result = train_palp_adapter(
        unet=pipe.unet,
        scheduler=pipe.scheduler,
        latents=torch.randn(1, 4, 8, 8),
        conditioning=_conditioning(pipe),
        settings=PalpSettings(steps=3, rank=4),
        sdxl=True,
    )
    assert result.steps_done == 3
    assert any("to_out.0.lora_B" in key for key in result.adapter)
    _assert_untouched(pipe, before)


def test_adapter_cache_round_trips_and_evicts_oldest(tmp_path: Path) -> None:
    big = {"w": torch.ones(256, 256)}  # 256 KiB
    cache = AdapterCache(tmp_path, max_bytes=600 * 1024)
    keys = [adapter_key(prompt=f"p{i}", version=1) for i in range(3)]
    for key in keys:
        cache.put(key, big, rank=4)
    assert cache.get(keys[0]) is None, "the oldest adapter is evicted past the size bound"
    cached = cache.get(keys[2])
    assert cached is not None and cached[1] == 4 and torch.equal(cached[0]["w"], big["w"])
    assert adapter_key(prompt="a", version=1) != adapter_key(prompt="a", version=2)
