"""Bad input gets a clear error before any model runs; bad model names fail fast and clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from generation.errors import (
    GenerationError,
    InvalidGenerationRequest,
    ModelLoadError,
    ModelNotFoundError,
)
from generation.generator import PersonalizedGenerator
from generation.loading import load_clip, load_models
from generation.settings import GenerationSettings
from generation.tiny import build_tiny_sd
from preference_store.models import Profile

PROFILE = Profile(user_id="alice")


@pytest.fixture()
def watched(tiny_sd, tiny_clip_bundle):
    """A generator plus a record of every forward call on the pipeline's and CLIP's modules."""
    calls: list[str] = []
    modules = [tiny_sd.unet, tiny_sd.vae.decoder, tiny_sd.text_encoder, tiny_clip_bundle.model]
    hooks = [
        m.register_forward_pre_hook(lambda mod, _a: calls.append(type(mod).__name__))
        for m in modules
    ]
    yield PersonalizedGenerator(tiny_sd, clip=tiny_clip_bundle), calls
    for hook in hooks:
        hook.remove()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"width": 65}, "multiple of 8"),
        ({"height": 100}, "multiple of 8"),
        ({"width": 4096}, "less than or equal to 2048"),
        ({"steps": 0}, "greater than or equal to 1"),
        ({"steps": 10_000}, "less than or equal to 200"),
        ({"vp_degree": float("nan")}, "finite number"),
        ({"guidance_scale": float("nan")}, "finite number"),
        ({"aesthetic_lr": float("inf")}, "finite number"),
        ({"num_images": 100}, "less than or equal to 8"),
        ({"mode": "sideways"}, "embeds"),
        ({"colour": "blue"}, "Extra inputs"),
    ],
)
def test_out_of_bounds_settings_are_refused_with_a_message(changes, message) -> None:
    with pytest.raises(InvalidGenerationRequest, match=message):
        GenerationSettings.checked(**changes)


@pytest.mark.parametrize(
    ("prompt", "negative", "settings", "message"),
    [
        ("", "", {}, "prompt is empty"),
        ("   ", "", {}, "prompt is empty"),
        ("x" * 20_000, "", {}, "20000 characters"),
        ("a lighthouse", "y" * 20_000, {}, "negative prompt has 20000"),
        (None, "", {}, "must be text"),
        ("a lighthouse", "", {"mode": "guidance", "guidance_scale": 1.0}, "guidance scale above 1"),
    ],
)
def test_bad_requests_touch_no_model(watched, prompt, negative, settings, message) -> None:
    generator, calls = watched
    with pytest.raises(InvalidGenerationRequest, match=message):
        generator(
            prompt,
            PROFILE,
            negative_prompt=negative,
            settings=GenerationSettings(steps=2, width=64, height=64, **settings),
        )
    assert calls == []
    assert len(generator.cache) == 0


def test_a_good_request_does_run_the_models(watched) -> None:
    generator, calls = watched
    generator("a lighthouse", PROFILE, settings=GenerationSettings(steps=1, width=64, height=64))
    assert {"UNet2DConditionModel", "Decoder", "CLIPTextModel"} <= set(calls)


def test_unknown_model_names_fail_fast_and_clearly(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="models pull nobody-here/no-such-model"):
        load_models("nobody-here/no-such-model")  # loading never downloads: asks for a pull
    with pytest.raises(ModelNotFoundError, match="not a hub id"):
        load_models("no such model!")
    with pytest.raises(ModelNotFoundError, match="file not found"):
        load_models(str(tmp_path / "missing.safetensors"))


def test_unreadable_models_are_load_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelLoadError, match=r"not a readable \.safetensors"):
        load_models(str(broken))
    (tmp_path / "folder").mkdir()
    with pytest.raises(ModelLoadError, match=r"no model_index\.json"):
        load_models(str(tmp_path / "folder"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "model_index.json").write_text('{"_class_name": "FluxPipeline"}')
    with pytest.raises(ModelLoadError, match=r"Stable Diffusion 1\.x and SDXL"):
        load_models(str(other))
    with pytest.raises(ModelLoadError, match="float16 on CPU"):
        load_models(str(other), dtype="float16")


def test_a_saved_diffusers_folder_loads_and_renders_the_same(tmp_path: Path) -> None:
    pipe = build_tiny_sd(seed=4)
    pipe.save_pretrained(tmp_path / "tiny-folder")
    loaded = load_models(str(tmp_path / "tiny-folder"))
    assert loaded.kind == "sd1" and len(loaded.pipeline.tokenizer) == len(pipe.tokenizer)
    common = {"num_inference_steps": 2, "height": 64, "width": 64, "output_type": "np"}
    original = pipe("a lighthouse", generator=torch.Generator().manual_seed(0), **common)
    reloaded = loaded.pipeline("a lighthouse", generator=torch.Generator().manual_seed(0), **common)
    np.testing.assert_array_equal(original.images, reloaded.images)


def test_tiny_models_load_by_name() -> None:
    sd, xl = load_models("tiny"), load_models("tiny-sdxl")
    assert sd.is_tiny and sd.kind == "sd1" and sd.clip is not None
    assert xl.kind == "sdxl" and xl.clip is not None


def test_clip_models_fail_clearly_and_load_from_a_folder(tmp_path: Path, tiny_clip) -> None:
    with pytest.raises(ModelNotFoundError, match="models pull nobody-here/no-such-clip"):
        load_clip("nobody-here/no-such-clip")
    tiny_clip.model.save_pretrained(tmp_path / "clip-no-tokenizer")
    with pytest.raises(GenerationError, match="tokenizer"):
        load_clip(str(tmp_path / "clip-no-tokenizer"))
    tiny_clip.tokenizer.save_pretrained(tmp_path / "clip-no-tokenizer")
    bundle = load_clip(str(tmp_path / "clip-no-tokenizer"))
    assert bundle.embedding_dim == 32 and len(bundle.tokenizer) == len(tiny_clip.tokenizer)


def test_single_file_checkpoints_are_recognised_and_fail_clearly_offline(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from generation.loading import _single_file_class

    sd = tmp_path / "sd.safetensors"
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(2)}, str(sd))
    xl = tmp_path / "xl.safetensors"
    save_file({"conditioner.embedders.1.model.ln_final.weight": torch.zeros(2)}, str(xl))
    other = tmp_path / "lora.safetensors"
    save_file({"lora_unet_down.alpha": torch.zeros(1)}, str(other))
    assert _single_file_class(sd).__name__ == "StableDiffusionPipeline"
    assert _single_file_class(xl).__name__ == "StableDiffusionXLPipeline"
    with pytest.raises(ModelLoadError, match="does not look like a Stable Diffusion checkpoint"):
        load_models(str(other))
    # A truncated checkpoint: offline, the error says how to give from_single_file its config.
    with pytest.raises(
        ModelLoadError, match=r"cannot load checkpoint.*config folder of the same model family"
    ):
        load_models(str(sd))
