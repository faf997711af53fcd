"""img2img (issue 28.4) through the one denoising path, on tiny SD 1.x and SDXL (CPU): strength 0
is the init image through the VAE, strength 1 is text-to-image, img2img rows batch like any
other, and the person's taste still applies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from generation.batched import BatchItem, generate_batch
from generation.errors import InvalidGenerationRequest
from generation.generator import PersonalizedGenerator
from generation.request import GenerationRequest
from generation.result import GenerationResult
from generation.settings import DEFAULT_STRENGTH, GenerationSettings
from preference_store.models import Category, Polarity, Profile, VisualAttribute

FAST = GenerationSettings(steps=4, width=64, height=64, aesthetic_steps=0, seed=3)
TOLERANCE = 2 / 255  # batched vs alone: float reduction order in batched kernels (batched.py)


def person(user_id: str, *liked: str) -> Profile:
    attributes = [
        VisualAttribute(
            user_id=user_id, text=t, polarity=Polarity.LIKE, category=Category.COLOR, strength=0.9
        )
        for t in liked
    ]
    return Profile(user_id=user_id, version=1, attributes=attributes)


def picture(colour: tuple[int, int, int], size: tuple[int, int] = (80, 60)) -> Image.Image:
    """A two-colour picture (not flat: the VAE and the noise see some structure)."""
    image = Image.new("RGB", size, colour)
    image.paste((255 - colour[0], 40, 200), (0, 0, size[0] // 2, size[1] // 3))
    return image


ORANGE, TEAL = picture((250, 120, 30)), picture((20, 160, 150), (64, 64))


@pytest.fixture()
def generator(tiny_pipeline) -> PersonalizedGenerator:
    return PersonalizedGenerator(tiny_pipeline, model_name="tiny")


def run(generator: PersonalizedGenerator, *items: BatchItem) -> list[GenerationResult]:
    outcomes = generate_batch(generator, list(items), output_type="np")
    assert all(isinstance(o, GenerationResult) for o in outcomes), outcomes
    return outcomes  # type: ignore[return-value]


def img2img(strength: float, init: Image.Image = ORANGE, **changes: object) -> BatchItem:
    settings = FAST.updated(strength=strength, **changes)
    return BatchItem("a fox in the snow", person("ann", "teal palette"), settings, init_image=init)


def vae_round_trip(pipeline, init: Image.Image) -> np.ndarray:  # type: ignore[no-untyped-def]
    """decode(encode(x)) written out here with the VAE itself: the init image resized to the
    generation size, the posterior's mean, no noise."""
    pixels = pipeline.image_processor.preprocess(init.resize((64, 64), Image.Resampling.LANCZOS))
    with torch.no_grad():
        latents = pipeline.vae.encode(pixels).latent_dist.mean
        decoded = pipeline.vae.decode(latents).sample
    return pipeline.image_processor.postprocess(decoded, output_type="np")[0]


def test_strength_0_is_the_init_image_through_the_vae(generator) -> None:
    (made,) = run(generator, img2img(0.0))
    expected = vae_round_trip(generator.pipeline, ORANGE)
    # The same float32 ops on the same one-row tensors, on the same CPU: equal up to 1e-6
    # (allowing only for a different kernel choice; any denoising would move pixels by >1/255).
    # The tiny VAE has random weights, so decode(encode(x)) is not x itself; with a trained SD
    # VAE the round trip is the image within a few /255 on smooth areas.
    assert np.abs(made.images[0] - expected).max() <= 1e-6
    assert made.settings.strength == 0.0
    # No step ran: neither the seed nor the prompt changes it; nor does a strength too small
    # for one of the 4 steps (int(4 × 0.2) = 0, as diffusers' get_timesteps counts).
    (other_seed,) = run(generator, img2img(0.0, seed=99))
    (small,) = run(generator, img2img(0.2))
    assert np.array_equal(other_seed.images[0], made.images[0])
    assert np.array_equal(small.images[0], made.images[0])


def test_strength_1_is_text_to_image_with_the_same_seed(generator) -> None:
    (text_only,) = run(
        generator, BatchItem("a fox in the snow", person("ann", "teal palette"), FAST)
    )
    (full,) = run(generator, img2img(1.0))
    assert np.array_equal(full.images[0], text_only.images[0])  # pixel for pixel


def test_in_between_the_init_image_and_the_seed_both_shape_the_image(generator) -> None:
    (half,) = run(generator, img2img(0.5))
    (again,) = run(generator, img2img(0.5))
    assert np.array_equal(half.images[0], again.images[0])  # reproducible
    (other_init,) = run(generator, img2img(0.5, TEAL))
    (other_seed,) = run(generator, img2img(0.5, seed=4))
    (round_trip,) = run(generator, img2img(0.0))
    (text_only,) = run(
        generator, BatchItem("a fox in the snow", person("ann", "teal palette"), FAST)
    )
    for different in (other_init, other_seed, round_trip, text_only):
        assert np.abs(half.images[0] - different.images[0]).max() > 0.01


def test_the_persons_taste_applies_as_in_text_to_image(generator) -> None:
    plain = BatchItem("a fox", person("bo"), FAST.updated(strength=0.75), init_image=ORANGE)
    liked = BatchItem(
        "a fox", person("bo", "neon glow", "teal palette"), plain.settings, init_image=ORANGE
    )
    (without,), (tasteful,) = run(generator, plain), run(generator, liked)
    assert tasteful.plan.positive_text  # the liked attributes are in the conditioning
    assert np.abs(without.images[0] - tasteful.images[0]).max() > 0.01
    beta_zero = BatchItem(
        liked.prompt, liked.profile, plain.settings.updated(vp_degree=0.0), init_image=ORANGE
    )
    (off,) = run(generator, beta_zero)
    assert np.abs(off.images[0] - without.images[0]).max() <= 1e-6  # β 0: no attributes


def test_img2img_requests_in_one_batch_equal_each_alone(generator) -> None:
    batch = [
        img2img(0.5, ORANGE, seed=1, num_images=2),
        BatchItem(
            "a harbour", person("cy", "pastel tones"), FAST.updated(strength=0.5), init_image=TEAL
        ),
    ]
    together = run(generator, *batch)
    for item, batched in zip(batch, together, strict=True):
        (alone,) = run(generator, item)
        assert len(batched.images) == len(alone.images) == item.settings.num_images
        for ours, theirs in zip(batched.images, alone.images, strict=True):
            assert np.abs(ours - theirs).max() <= TOLERANCE
    assert np.abs(together[0].images[0] - together[0].images[1]).max() > 0.01  # seed, seed+1


def test_a_cancelled_img2img_request_leaves_the_batch_and_the_rest_is_unchanged(
    generator,
) -> None:
    def cancel(_done: int, _total: int) -> None:
        raise RuntimeError("cancelled")

    stays = img2img(0.75, TEAL, seed=8)
    leaves = img2img(0.75, ORANGE)
    leaves.on_step = cancel
    outcomes = generate_batch(generator, [leaves, stays], output_type="np")
    assert isinstance(outcomes[0], RuntimeError)
    assert isinstance(outcomes[1], GenerationResult)
    (alone,) = run(generator, stays)
    assert np.abs(outcomes[1].images[0] - alone.images[0]).max() <= TOLERANCE


def test_progress_counts_the_steps_img2img_runs_up_to_the_total(generator) -> None:
    seen: list[tuple[int, int]] = []
    item = img2img(0.5, steps=6)
    item.on_step = lambda done, total: seen.append((done, total))
    run(generator, item)
    assert seen[-1] == (6, 6) and len(seen) == 3  # int(6 × 0.5) steps, scaled to the total


def test_cfg_rescale_is_refused_where_diffusers_img2img_has_none(generator) -> None:
    (outcome,) = generate_batch(generator, [img2img(0.5, cfg_rescale=0.7)], output_type="np")
    if "XL" in type(generator.pipeline).__name__:  # SDXL's img2img pipeline takes it
        assert isinstance(outcome, GenerationResult)
    else:
        assert isinstance(outcome, InvalidGenerationRequest)
        assert "cfg_rescale" in str(outcome)


def test_the_request_defaults_strength_and_refuses_one_without_an_init_image() -> None:
    request = GenerationRequest(prompt="a fox", init_image="ab" * 12)
    assert request.settings.strength is None
    assert request.image_settings().strength == DEFAULT_STRENGTH == 0.6
    with pytest.raises(ValueError, match="give init_image"):
        GenerationRequest(prompt="a fox", settings=FAST.updated(strength=0.5))
    with pytest.raises(InvalidGenerationRequest, match="strength"):
        FAST.updated(strength=1.5)
    # Different strengths start at different timesteps: never one loop.
    other = GenerationRequest(
        prompt="a fox", init_image="cd" * 12, settings=FAST.updated(strength=0.3)
    )
    same = GenerationRequest(prompt="a cat", init_image="ef" * 12, settings=FAST)
    assert other.batch_key() != request.batch_key()
    assert (
        same.batch_key()
        == GenerationRequest(prompt="a fox", init_image="ab" * 12, settings=FAST).batch_key()
    )
