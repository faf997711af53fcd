"""PersonalizedGenerator end to end on the tiny SD 1.x and tiny SDXL pipelines (CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generation.encoding import PipelineTextEncoder
from generation.generator import PersonalizedGenerator
from generation.guidance import pipeline_view
from generation.samplers import build_scheduler
from generation.settings import ConditioningMode, GenerationSettings
from preference_store.models import Category, Polarity, Profile, VisualAttribute

FAST = GenerationSettings(steps=2, width=64, height=64, seed=7, guidance_scale=5.0)


def make_profile(version: int = 1, embedding: list[float] | None = None) -> Profile:
    rows = [
        ("teal palette", Polarity.LIKE, Category.COLOR, 0.9),
        ("flowing lines", Polarity.LIKE, Category.COMPOSITION, 0.7),
        ("cluttered composition", Polarity.DISLIKE, Category.COMPOSITION, 0.8),
        ("harsh flash", Polarity.DISLIKE, Category.LIGHTING, 0.5),
    ]
    return Profile(
        user_id="alice",
        version=version,
        attributes=[
            VisualAttribute(user_id="alice", text=t, polarity=p, category=c, strength=s)
            for t, p, c, s in rows
        ],
        aesthetic_embeddings={"tiny-clip": embedding} if embedding else {},
    )


def plain_image(pipe, prompt: str, settings: GenerationSettings) -> np.ndarray:
    """diffusers' own pipeline with the settings' sampler (DDIM unless named; the tiny SDXL
    pipeline's own scheduler is Euler)."""
    pipe = pipeline_view(pipe, scheduler=build_scheduler(pipe.scheduler.config, settings.sampler))
    return pipe(
        prompt,
        num_inference_steps=settings.steps,
        guidance_scale=settings.guidance_scale,
        height=settings.height,
        width=settings.width,
        generator=torch.Generator().manual_seed(settings.seed),
        output_type="np",
    ).images[0]


@pytest.fixture()
def generator(tiny_pipeline, tiny_clip_bundle) -> PersonalizedGenerator:
    return PersonalizedGenerator(tiny_pipeline, clip=tiny_clip_bundle, model_name="tiny")


def embedding() -> list[float]:
    return torch.randn(32, generator=torch.Generator().manual_seed(5)).tolist()


def test_zero_degree_and_zero_steps_reproduce_the_plain_pipeline_exactly(generator) -> None:
    settings = FAST.updated(vp_degree=0.0, aesthetic_steps=0)
    result = generator(
        "a lighthouse at dusk",
        make_profile(embedding=embedding()),
        settings=settings,
        output_type="np",
    )
    expected = plain_image(generator.pipeline, "a lighthouse at dusk", settings)
    np.testing.assert_array_equal(result.images[0], expected)


def test_precomputed_embeddings_equal_the_prompt_path(tiny_pipeline) -> None:
    encoder = PipelineTextEncoder(tiny_pipeline)
    ours = encoder.encode("a lighthouse at dusk")
    negative = encoder.encode_negative("blurry")
    theirs = tiny_pipeline.encode_prompt(
        "a lighthouse at dusk",
        device=torch.device("cpu"),
        num_images_per_prompt=1,
        do_classifier_free_guidance=True,
        negative_prompt="blurry",
    )
    assert torch.equal(ours.hidden, theirs[0]) and torch.equal(negative.hidden, theirs[1])
    if encoder.sdxl:
        assert torch.equal(ours.pooled, theirs[2]) and torch.equal(negative.pooled, theirs[3])
    kwargs = {"prompt_embeds": ours.hidden, "negative_prompt_embeds": negative.hidden}
    if encoder.sdxl:
        kwargs |= {
            "pooled_prompt_embeds": ours.pooled,
            "negative_pooled_prompt_embeds": negative.pooled,
        }
    common = {"num_inference_steps": 2, "height": 64, "width": 64, "output_type": "np"}
    with_embeds = tiny_pipeline(generator=torch.Generator().manual_seed(1), **common, **kwargs)
    with_prompt = tiny_pipeline(
        "a lighthouse at dusk",
        negative_prompt="blurry",
        generator=torch.Generator().manual_seed(1),
        **common,
    )
    np.testing.assert_array_equal(with_embeds.images, with_prompt.images)


@pytest.mark.parametrize("mode", [ConditioningMode.EMBEDS, ConditioningMode.GUIDANCE])
def test_personalized_differs_from_plain_and_a_seed_reproduces_it(generator, mode) -> None:
    settings = FAST.updated(mode=mode, aesthetic_steps=0)
    profile = make_profile()
    first = generator("a lighthouse at dusk", profile, settings=settings, output_type="np")
    again = generator("a lighthouse at dusk", profile, settings=settings, output_type="np")
    other_seed = generator(
        "a lighthouse at dusk", profile, settings=settings.updated(seed=8), output_type="np"
    )
    plain = plain_image(generator.pipeline, "a lighthouse at dusk", settings)
    assert np.abs(first.images[0] - plain).max() > 1e-3
    np.testing.assert_array_equal(first.images[0], again.images[0])
    assert np.abs(first.images[0] - other_seed.images[0]).max() > 1e-3
    assert first.plan.positive_text == "teal palette, flowing lines"
    assert first.plan.negative_text == "cluttered composition, harsh flash"


def test_guidance_mode_runs_one_extra_unet_pass_per_step(generator) -> None:
    batches: list[int] = []
    hook = generator.pipeline.unet.register_forward_pre_hook(
        lambda _m, args, kwargs=None: batches.append(args[0].shape[0]), with_kwargs=False
    )
    try:
        generator(
            "a lighthouse", make_profile(), settings=FAST.updated(mode="embeds"), output_type="np"
        )
        embeds_batches = list(batches)
        batches.clear()
        generator(
            "a lighthouse", make_profile(), settings=FAST.updated(mode="guidance"), output_type="np"
        )
    finally:
        hook.remove()
    assert embeds_batches == [2, 2]  # uncond + text per step
    assert batches == [4, 4]  # + VP− and VP+ per step: the UNet batch doubles


def test_aesthetic_steps_change_the_image_and_are_reported(generator) -> None:
    profile = make_profile(embedding=embedding())
    without = generator(
        "a lighthouse", profile, settings=FAST.updated(aesthetic_steps=0), output_type="np"
    )
    with_steps = generator(
        "a lighthouse", profile, settings=FAST.updated(aesthetic_steps=5), output_type="np"
    )
    assert with_steps.aesthetic.applied and with_steps.aesthetic.steps == 5
    assert with_steps.aesthetic.similarity_after > with_steps.aesthetic.similarity_before
    assert not without.aesthetic.applied
    assert np.abs(with_steps.images[0] - without.images[0]).max() > 1e-4


def test_result_reports_stages_progress_seed_and_provenance(generator) -> None:
    steps: list[tuple[int, int]] = []
    result = generator(
        "a lighthouse",
        make_profile(embedding=embedding()),
        settings=FAST.updated(seed=None, steps=3, num_images=2),
        on_step=lambda done, total: steps.append((done, total)),
    )
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert len(result.images) == 2 and result.images[0].size == (64, 64)
    assert isinstance(result.seed, int) and result.settings.seed == result.seed
    assert {"check", "plan", "encode", "aesthetic", "denoise", "total"} <= result.timings.keys()
    meta = result.metadata(1)
    assert meta["tastemaker:seed"] == str(result.seed + 1)
    assert meta["tastemaker:liked_applied"] == "teal palette, flowing lines"


def test_conditioning_is_cached_per_profile_version_prompt_and_settings(generator) -> None:
    profile = make_profile(embedding=embedding())
    first = generator("a cached lighthouse", profile, settings=FAST)
    reroll = generator("a cached lighthouse", profile, settings=FAST.updated(seed=99))
    new_version = generator("a cached lighthouse", make_profile(2, embedding()), settings=FAST)
    new_degree = generator("a cached lighthouse", profile, settings=FAST.updated(vp_degree=0.5))
    assert not first.conditioning_cached and reroll.conditioning_cached
    assert not new_version.conditioning_cached and not new_degree.conditioning_cached


def test_no_clip_or_no_embedding_skips_aesthetic_steps_and_says_why(tiny_sd) -> None:
    without_clip = PersonalizedGenerator(tiny_sd)
    result = without_clip("a lighthouse", make_profile(embedding=embedding()), settings=FAST)
    assert not result.aesthetic.applied and "no CLIP model" in result.aesthetic.note


def test_concurrent_requests_get_the_same_images_as_sequential_ones(generator) -> None:
    """Aesthetic steps swap tensors into the shared encoder for a moment; others must not see it."""
    from concurrent.futures import ThreadPoolExecutor

    profile = make_profile(embedding=embedding())
    jobs = [
        ("a lighthouse", FAST.updated(aesthetic_steps=5)),
        ("a harbour", FAST.updated(aesthetic_steps=0)),
        ("a lighthouse", FAST.updated(aesthetic_steps=5, mode="guidance")),
        ("a harbour", FAST.updated(aesthetic_steps=3, seed=9)),
    ]

    def run(job: tuple[str, GenerationSettings]) -> np.ndarray:
        generator.clear_caches()
        return generator(job[0], profile, settings=job[1], output_type="np").images[0]

    sequential = [run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(run, jobs * 2))
    for index, image in enumerate(concurrent):
        np.testing.assert_array_equal(image, sequential[index % len(jobs)])
