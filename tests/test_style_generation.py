"""Learned tokens at generation: per request only, weight 0 is exactly off, users never mix."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from generation.encoding import PipelineTextEncoder
from generation.errors import InvalidGenerationRequest
from generation.generator import PersonalizedGenerator
from generation.style_inject import encoder_keys
from generation.style_token import StyleToken
from generation.style_training import TrainingConfig, train_style_token
from tests.test_generation_pipeline import FAST, make_profile
from tests.test_style_training import red_images, snapshot

SETTINGS = FAST.updated(aesthetic_steps=0)


def token(pipe, seed: int, *, negative: bool = False, count: int = 1) -> StyleToken:
    encoders = PipelineTextEncoder(pipe).encoders
    gen = torch.Generator().manual_seed(seed)
    vectors = {key: torch.randn(count, 32, generator=gen) * 2.0 for key in encoder_keys(encoders)}
    return StyleToken(
        token_id=f"tok{seed}",
        name=f"<user{seed}>",
        vectors=vectors,
        profile_version=3,
        negative=negative,
    )


@pytest.fixture()
def generator(tiny_pipeline) -> PersonalizedGenerator:
    return PersonalizedGenerator(tiny_pipeline, model_name="tiny")


def image(generator, settings=SETTINGS, **kwargs) -> np.ndarray:
    return generator(
        "a lighthouse", make_profile(), settings=settings, output_type="np", **kwargs
    ).images[0]


def test_weight_zero_is_bit_identical_to_no_token_and_weight_one_differs(generator) -> None:
    alice = token(generator.pipeline, 1)
    plain = image(generator)
    np.testing.assert_array_equal(
        image(generator, SETTINGS.updated(style_weight=0.0), style=alice), plain
    )
    styled = image(generator, style=alice)
    assert np.abs(styled - plain).max() > 1e-4
    half = image(generator, SETTINGS.updated(style_weight=0.5), style=alice)
    assert not np.array_equal(half, styled) and not np.array_equal(half, plain)


def test_negative_token_goes_into_the_negative_conditioning(generator) -> None:
    dislike = token(generator.pipeline, 2, negative=True)
    plain = image(generator)
    np.testing.assert_array_equal(
        image(generator, SETTINGS.updated(negative_style_weight=0.0), negative_style=dislike), plain
    )
    result = generator(
        "a lighthouse", make_profile(), settings=SETTINGS, negative_style=dislike, output_type="np"
    )
    assert np.abs(result.images[0] - plain).max() > 1e-4
    assert result.plan.negative_style_prompt.endswith("<style>")
    assert "<user2>" in result.metadata()["tastemaker:negative_style"]
    with pytest.raises(InvalidGenerationRequest, match="negative style token"):
        image(generator, style=dislike)


def test_plan_and_png_metadata_name_the_token_and_profile_version(generator) -> None:
    alice = token(generator.pipeline, 1, count=2)
    result = generator(
        "a lighthouse", make_profile(), settings=SETTINGS, style=alice, output_type="np"
    )
    assert result.plan.style_prompt == "a lighthouse, in the style of <style>"
    meta = result.metadata()
    assert "<user1>" in meta["tastemaker:style"] and "profile v3" in meta["tastemaker:style"]
    assert meta["tastemaker:negative_style"] == ""
    again = generator(
        "a lighthouse", make_profile(), settings=SETTINGS, style=alice, output_type="np"
    )
    assert again.conditioning_cached
    np.testing.assert_array_equal(again.images[0], result.images[0])


def test_a_long_prompt_keeps_the_token_inside_the_window(tiny_sd) -> None:
    text = PipelineTextEncoder(tiny_sd)
    long = " ".join(["lighthouse"] * 100) + ", in the style of <style>"
    ((ids, mask),) = text.style_inputs(long, 3)
    assert ids.shape == (1, 77) and int(mask.sum()) == 3
    assert ids[0, -1] == tiny_sd.tokenizer.eos_token_id


def test_a_token_for_another_model_is_refused(tiny_sd) -> None:
    generator = PersonalizedGenerator(tiny_sd, model_name="tiny")
    wrong_width = StyleToken("t1", "<x>", {"clip_l": torch.zeros(1, 768)})
    with pytest.raises(InvalidGenerationRequest, match=r"needs \[K, 32\]"):
        image(generator, style=wrong_width)
    sdxl_pair = StyleToken(
        "t2", "<x>", {"clip_l": torch.zeros(1, 32), "clip_g": torch.zeros(1, 32)}
    )
    with pytest.raises(InvalidGenerationRequest, match="encoder"):
        image(generator, style=sdxl_pair)


def test_two_users_tokens_in_concurrent_requests_never_mix(tiny_pipeline) -> None:
    """Two generators share one pipeline (no common lock) while a third thread trains a token."""
    first = PersonalizedGenerator(tiny_pipeline, model_name="tiny")
    second = PersonalizedGenerator(tiny_pipeline, model_name="tiny")
    tokens = {"alice": token(tiny_pipeline, 1), "bob": token(tiny_pipeline, 2)}
    jobs = [("alice", first), ("bob", second), ("plain", first), ("bob", first), ("alice", second)]

    def run(job) -> np.ndarray:
        user, generator = job
        generator.clear_caches()
        return image(generator, style=tokens.get(user))

    sequential = {user: run((user, first)) for user in ("alice", "bob", "plain")}
    assert not np.array_equal(sequential["alice"], sequential["bob"])
    before = snapshot(tiny_pipeline)
    with ThreadPoolExecutor(max_workers=4) as pool:
        training = pool.submit(
            train_style_token, tiny_pipeline, red_images(), config=TrainingConfig(steps=15)
        )
        results = list(pool.map(run, jobs * 3))
        training.result()
    for (user, _gen), result in zip(jobs * 3, results, strict=True):
        np.testing.assert_array_equal(result, sequential[user])
    after = snapshot(tiny_pipeline)
    assert all(torch.equal(before[k], after[k]) for k in before)
