"""Model flags and defaults of `gallery build`, `generate` and `score`, as a person meets them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image
from safetensors.torch import save_file

from agent.gallery import load_gallery
from api.cli.generation_output import describe_timings
from api.wiring.services import Components
from tests.cli_runner import run_cli


def test_gallery_build_renders_at_the_native_size_and_says_tiny_is_noise(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tiny_sd: StableDiffusionPipeline,
) -> None:
    out = tmp_path / "g"
    args = ["--model", "tiny", "--out", str(out), "--limit", "1", "--steps", "1"]
    result = run_cli(capsys, "gallery", "build", *args)
    assert result.code == 0, result.stderr
    (image,) = load_gallery(out).images
    native = tiny_sd.unet.config.sample_size * tiny_sd.vae_scale_factor
    with Image.open(out / image.file) as picture:
        assert picture.size == (native, native)
    assert "Stable Diffusion" not in image.description
    assert image.description.startswith("noise from the offline test model 'tiny'")


def test_a_single_file_checkpoint_offline_names_the_setting_and_the_flag(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = tmp_path / "model.safetensors"
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(1)}, checkpoint)
    Components().accounts.ensure("alice")
    for args in (
        ["generate", "-u", "alice", "--model", str(checkpoint), "x"],
        ["gallery", "build", "--model", str(checkpoint), "--out", str(tmp_path / "g")],
    ):
        result = run_cli(capsys, *args)
        assert result.code == 1
        said = result.stdout + result.stderr
        assert "TASTEMAKER_SINGLE_FILE_CONFIG" in said and "--single-file-config DIR" in said
        assert "single_file_config)" not in said  # not a Python argument name


def test_clip_model_flag_beside_the_setting(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Components().accounts.ensure("alice")
    picture = tmp_path / "a.png"
    Image.new("RGB", (32, 32), (0, 128, 128)).save(picture)
    missing = run_cli(capsys, "score", "-u", "alice", "--model", "some/model", str(picture))
    assert missing.code == 1
    assert "TASTEMAKER_CLIP_MODEL" in missing.stderr and "--clip-model" in missing.stderr
    args = ["score", "-u", "alice", "--model", "some/model", "--clip-model", "tiny-clip"]
    scored = run_cli(capsys, *args, str(picture))
    assert scored.code == 0, scored.stderr
    assert "0.500" in scored.stdout  # an empty profile is indifferent


def test_printed_stage_timings_add_up_to_the_total(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Components().accounts.ensure("alice")
    args = ["generate", "-u", "alice", "--model", "tiny", "--out", str(tmp_path / "o")]
    fast = ["--steps", "2", "--width", "64", "--height", "64", "--seed", "1"]
    result = run_cli(capsys, *args, *fast, "a lighthouse")
    assert result.code == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("seed 1;"))
    terms, total = line.split("; ", 1)[1].split(" = total ")
    stages = re.sub(r" \(of which [^)]*\)", "", terms).split(" + ")
    assert [s.split()[0] for s in stages] == ["check", "plan", "encode", "prepare", "denoise"]
    summed = sum(float(s.split()[1].rstrip("s")) for s in stages)
    assert abs(summed - float(total.rstrip("s"))) <= 0.005 * len(stages) + 1e-9
    # the aesthetic-gradient steps run inside encode: shown within it, not added again
    timings = {"check": 0.1, "plan": 0.1, "aesthetic": 0.5, "encode": 0.7, "total": 0.9}
    assert describe_timings(timings) == (
        "check 0.10s + plan 0.10s + encode 0.70s (of which aesthetic 0.50s) = total 0.90s"
    )
