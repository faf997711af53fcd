"""Samplers by their A1111 names (issue 28.1) on tiny SD 1.x and SDXL pipelines (CPU)."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from generation.batched import BatchItem, generate_batch
from generation.errors import InvalidGenerationRequest
from generation.generator import GenerationResult, PersonalizedGenerator
from generation.request import GenerationRequest
from generation.samplers import Sampler, build_scheduler, find_sampler
from generation.settings import GenerationSettings
from preference_store.models import Category, Polarity, Profile, VisualAttribute
from tests.doubles.admin_client import admin_app, new_user

FAST = GenerationSettings(steps=3, width=64, height=64, aesthetic_steps=0, seed=5)
TOLERANCE = 2 / 255


def person(user_id: str, liked: str) -> Profile:
    attribute = VisualAttribute(
        user_id=user_id, text=liked, polarity=Polarity.LIKE, category=Category.COLOR, strength=0.8
    )
    return Profile(user_id=user_id, version=1, attributes=[attribute])


@pytest.fixture()
def generator(tiny_pipeline) -> PersonalizedGenerator:
    return PersonalizedGenerator(tiny_pipeline, model_name="tiny")


def run(generator: PersonalizedGenerator, *items: BatchItem) -> list[GenerationResult]:
    outcomes = generate_batch(generator, list(items), output_type="np")
    assert all(isinstance(o, GenerationResult) for o in outcomes), outcomes
    return outcomes  # type: ignore[return-value]


def item(settings: GenerationSettings, prompt: str = "a fox in the snow", **extra) -> BatchItem:
    return BatchItem(prompt, person("ann", "teal palette"), settings, **extra)


def test_each_sampler_runs_reproducibly_and_differs_from_ddim(generator) -> None:
    ddim = run(generator, item(FAST))[0]
    assert ddim.settings.sampler is Sampler.DDIM and ddim.scheduler == "DDIMScheduler"
    for sampler in Sampler:
        if sampler is Sampler.DDIM:
            continue
        settings = FAST.updated(sampler=sampler)
        first = run(generator, item(settings))[0]
        again = run(generator, item(settings))[0]
        assert np.array_equal(first.images[0], again.images[0]), sampler  # same seed, same image
        assert np.abs(first.images[0] - ddim.images[0]).max() > 0.01, sampler
        assert first.settings.sampler is sampler


@pytest.mark.parametrize("sampler", [Sampler.DPMPP_SDE_KARRAS, Sampler.EULER_A, Sampler.DPMPP_2M])
def test_a_batched_image_equals_its_request_alone_and_survives_a_cancel(generator, sampler) -> None:
    """Noise per row (SDE: a Brownian tree per image seed; ancestral: per-row generators) and
    state per row: neither the others in a batch nor a cancelled neighbour change an image."""
    settings = FAST.updated(sampler=sampler, steps=4)
    prompts = ("a lighthouse at dusk", "a fox in the snow", "a quiet harbour")
    batch = [item(settings.updated(seed=seed), prompt) for seed, prompt in enumerate(prompts)]

    def cancel_at_two(done: int, _total: int) -> None:
        if done == 2:
            raise RuntimeError("cancelled by its owner")

    batch[0].on_step = cancel_at_two
    outcomes = generate_batch(generator, batch, output_type="np")
    assert isinstance(outcomes[0], RuntimeError)
    for index in (1, 2):
        result = outcomes[index]
        assert isinstance(result, GenerationResult)
        lone = item(batch[index].settings, batch[index].prompt)
        assert np.abs(result.images[0] - run(generator, lone)[0].images[0]).max() <= TOLERANCE


def test_the_sde_sampler_reports_steps_up_to_the_total(generator) -> None:
    """DPM++ SDE evaluates the UNet about twice a step: progress still ends at ``steps``."""
    seen: list[int] = []
    settings = FAST.updated(sampler=Sampler.DPMPP_SDE_KARRAS)
    run(generator, item(settings, on_step=lambda done, _total: seen.append(done)))
    assert seen == sorted(seen) and seen[-1] == settings.steps and max(seen) == settings.steps


def test_cfg_rescale_changes_the_image_and_zero_is_off(generator) -> None:
    plain = run(generator, item(FAST))[0].images[0]
    off = run(generator, item(FAST.updated(cfg_rescale=0.0)))[0].images[0]
    rescaled = run(generator, item(FAST.updated(cfg_rescale=0.7)))[0].images[0]
    assert np.array_equal(plain, off)
    assert np.abs(rescaled - plain).max() > 0.01


def test_requests_with_different_samplers_never_share_a_loop(generator) -> None:
    ddim, euler = item(FAST), item(FAST.updated(sampler=Sampler.EULER))
    with pytest.raises(InvalidGenerationRequest, match="sampler"):
        generate_batch(generator, [ddim, euler])
    one = GenerationRequest(prompt="a fox", settings=FAST)
    assert one.batch_key() == GenerationRequest(prompt="a hen", settings=FAST).batch_key()
    for changed in (FAST.updated(sampler=Sampler.EULER), FAST.updated(cfg_rescale=0.5)):
        assert one.batch_key() != GenerationRequest(prompt="a fox", settings=changed).batch_key()


def test_an_unknown_sampler_is_refused_with_the_names() -> None:
    with pytest.raises(InvalidGenerationRequest, match=r"'DPM\+\+ 2M Karras'.*'Euler a'"):
        GenerationSettings.checked(sampler="Heun")
    with pytest.raises(InvalidGenerationRequest, match="cfg_rescale"):
        GenerationSettings.checked(cfg_rescale=1.5)


def test_the_model_config_is_kept_and_the_sampler_flags_win(tiny_sd) -> None:
    # As a v-prediction model's scheduler_config.json says it (every key given, none defaulted),
    # with a schedule of its own.
    config = {k: v for k, v in tiny_sd.scheduler.config.items() if k != "_use_default_values"}
    config.update(prediction_type="v_prediction", use_karras_sigmas=True)
    plain = build_scheduler(config, Sampler.DPMPP_2M)
    karras = build_scheduler(config, "DPM++ 2M Karras")
    assert plain.config.prediction_type == karras.config.prediction_type == "v_prediction"
    assert not plain.config.use_karras_sigmas and karras.config.use_karras_sigmas
    assert plain.config.algorithm_type == "dpmsolver++"
    sde = build_scheduler(config, Sampler.DPMPP_SDE_KARRAS, seeds=[3, 4])
    assert sde.noise_sampler_seed == [3, 4]


def test_a1111_names_and_schedule_types_are_read() -> None:
    assert find_sampler("Euler a") is Sampler.EULER_A
    assert find_sampler("DPM++ 2M", "Karras") is Sampler.DPMPP_2M_KARRAS
    assert find_sampler("DPM++ SDE", "Karras") is Sampler.DPMPP_SDE_KARRAS
    assert find_sampler("DPM++ 2M", "Automatic") is Sampler.DPMPP_2M
    assert find_sampler("DPM++ 2M", "Exponential") is None
    assert find_sampler("Heun") is None


def test_over_http_a_sampler_is_chosen_by_name_and_an_unknown_one_is_a_422(tmp_path) -> None:
    with admin_app(tmp_path / "data") as (client, _settings):
        _user, headers = new_user(client)
        body = {"prompt": "a cat", "steps": 2, "width": 64, "height": 64, "aesthetic_steps": 0}
        for bad, field in (({"sampler": "Heun"}, "DPM++ 2M Karras"), ({"cfg_rescale": 2}, "")):
            refused = client.post("/v1/generations", headers=headers, json={**body, **bad})
            assert refused.status_code == 422 and field in refused.json()["detail"], refused.text
        accepted = client.post(
            "/v1/generations", headers=headers, json={**body, "sampler": "Euler a"}
        )
        assert accepted.status_code == 202, accepted.text
        job = accepted.json()["id"]
        deadline = time.monotonic() + 120
        while (state := client.get(f"/v1/generations/{job}", headers=headers).json())["status"] in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
        assert state["status"] == "done", state
        image = client.get(state["image_urls"][0], headers=headers)
        parameters = Image.open(io.BytesIO(image.content)).text["parameters"]
        assert "Steps: 2, Sampler: Euler a, CFG scale: 5.0" in parameters
