"""One denoising loop for several people's requests (issue 15) on tiny SD 1.x and SDXL (CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generation.batched import BatchItem, generate_batch
from generation.errors import InvalidGenerationRequest
from generation.generator import PersonalizedGenerator
from generation.result import GenerationResult
from generation.samplers import Sampler
from generation.settings import ConditioningMode, GenerationSettings
from preference_store.models import Category, Polarity, Profile, VisualAttribute

FAST = GenerationSettings(steps=3, width=64, height=64, guidance_scale=5.0, aesthetic_steps=0)
TOLERANCE = 2 / 255


def person(user_id: str, liked: str, disliked: str) -> Profile:
    rows = [(liked, Polarity.LIKE, Category.COLOR), (disliked, Polarity.DISLIKE, Category.STYLE)]
    return Profile(
        user_id=user_id,
        version=1,
        attributes=[
            VisualAttribute(user_id=user_id, text=t, polarity=p, category=c, strength=0.8)
            for t, p, c in rows
        ],
    )


PEOPLE = [
    ("a lighthouse at dusk", person("alice", "teal palette", "harsh flash"), 11),
    ("a fox in the snow", person("bob", "warm light", "cluttered composition"), 22),
    ("a quiet harbour", person("carol", "pastel tones", "neon glow"), 33),
]


@pytest.fixture()
def generator(tiny_pipeline) -> PersonalizedGenerator:
    return PersonalizedGenerator(tiny_pipeline, model_name="tiny")


def items(settings: GenerationSettings, **extra: object) -> list[BatchItem]:
    return [
        BatchItem(prompt, profile, settings.updated(seed=seed), **extra)  # type: ignore[arg-type]
        for prompt, profile, seed in PEOPLE
    ]


def alone(generator: PersonalizedGenerator, item: BatchItem) -> GenerationResult:
    return generator(item.prompt, item.profile, settings=item.settings, output_type="np")


def results(outcomes: list) -> list[GenerationResult]:
    assert all(isinstance(o, GenerationResult) for o in outcomes), outcomes
    return outcomes


@pytest.mark.parametrize("mode", [ConditioningMode.EMBEDS, ConditioningMode.GUIDANCE])
def test_each_batched_image_equals_the_one_its_request_makes_alone(generator, mode) -> None:
    batch = items(FAST.updated(mode=mode, num_images=2 if mode == "embeds" else 1))
    batched = results(generate_batch(generator, batch, output_type="np"))
    for item, result in zip(batch, batched, strict=True):
        single = alone(generator, item)
        assert len(result.images) == len(single.images)
        for ours, theirs in zip(result.images, single.images, strict=True):
            assert np.abs(ours - theirs).max() <= TOLERANCE
        assert result.metadata(0) == single.metadata(0)  # prompt, seed, plan: per request
        assert result.metadata(0)["tastemaker:prompt"] == item.prompt
    first, second = batched[0].images[0], batched[1].images[0]
    assert np.abs(first - second).max() > 0.05  # different people: different pictures


def test_a_cancelled_request_is_dropped_and_the_others_finish_unchanged(generator) -> None:
    batch = items(FAST)
    seen: list[int] = []

    def cancel_after_first_step(done: int, _total: int) -> None:
        seen.append(done)
        if done == 1:
            raise KeyboardInterruptLike("cancelled by its owner")

    batch[1].on_step = cancel_after_first_step
    outcomes = generate_batch(generator, batch, output_type="np")
    assert isinstance(outcomes[1], KeyboardInterruptLike) and seen == [1]
    for index in (0, 2):
        result = outcomes[index]
        assert isinstance(result, GenerationResult)
        single = alone(generator, batch[index])
        assert np.abs(result.images[0] - single.images[0]).max() <= TOLERANCE


def test_an_invalid_request_fails_alone(generator) -> None:
    batch = items(FAST)
    batch[0] = BatchItem("   ", batch[0].profile, batch[0].settings)
    outcomes = generate_batch(generator, batch, output_type="np")
    assert isinstance(outcomes[0], InvalidGenerationRequest)
    assert "prompt is empty" in str(outcomes[0])
    assert all(isinstance(o, GenerationResult) for o in outcomes[1:])


def test_requests_that_cannot_share_a_loop_are_refused(generator) -> None:
    batch = items(FAST)
    batch[2].settings = batch[2].settings.updated(steps=4)
    with pytest.raises(InvalidGenerationRequest, match="one size, step count"):
        generate_batch(generator, batch)


def test_every_request_cancelled_ends_the_loop(generator) -> None:
    def stop(_done: int, _total: int) -> None:
        raise KeyboardInterruptLike("stop")

    outcomes = generate_batch(generator, items(FAST, on_step=stop))
    assert all(isinstance(o, KeyboardInterruptLike) for o in outcomes)


class KeyboardInterruptLike(Exception):
    """What a job's step reporter raises when its owner cancels it."""


def test_batching_leaves_the_shared_pipeline_untouched(generator) -> None:
    before = {k: v.clone() for k, v in generator.pipeline.unet.state_dict().items()}
    generate_batch(generator, items(FAST.updated(mode=ConditioningMode.GUIDANCE)))
    after = generator.pipeline.unet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("sampler", [Sampler.DPMPP_2M, Sampler.EULER_A, Sampler.UNIPC])
def test_a_cancel_keeps_stateful_schedulers_right_for_the_others(tiny_sd, sampler) -> None:
    """Multistep schedulers keep earlier outputs per row and ancestral ones draw noise per row
    from the generators: dropping a row must drop its state and its generator too."""
    generator = PersonalizedGenerator(tiny_sd, model_name="tiny")
    batch = items(FAST.updated(steps=4, sampler=sampler))

    def cancel_at_two(done: int, _total: int) -> None:
        if done == 2:
            raise KeyboardInterruptLike("cancelled")

    batch[0].on_step = cancel_at_two
    outcomes = generate_batch(generator, batch, output_type="np")
    assert isinstance(outcomes[0], KeyboardInterruptLike)
    for index in (1, 2):
        result = outcomes[index]
        assert isinstance(result, GenerationResult)
        single = alone(generator, batch[index])
        assert np.abs(result.images[0] - single.images[0]).max() <= TOLERANCE
