"""Images that reproduce (issue 28.5): the `parameters` chunk names the sampler, the model hash
and the style tokens' hashes; `generate --from-png` makes a tastemaker PNG again pixel for pixel
and reads an A1111 PNG; a PNG that is not what it claims is one line of error."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from api.wiring.services import Components
from generation.infotext import UnreadablePng, parse_parameters, read_recipe
from generation.model_identity import identify, ti_hash
from generation.png import a1111_parameters, read_png_metadata
from generation.samplers import sampler_names
from generation.style_formats import export_token
from preference_store.models import AttributeDraft, Polarity
from tests.cli_runner import run_cli
from tests.test_png_parameters import _a1111_fields

# What AUTOMATIC1111 1.9 writes (modules/processing.py create_infotext): the prompt, the negative
# prompt, then `Key: value` pairs, a value holding `,` or `:` quoted as JSON.
A1111_TEXT = (
    "a red fox in the snow, (masterpiece:1.2)\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 3, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234, "
    'Size: 64x72, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, TI hashes: "easyneg: '
    'c74b4e810b03", Version: v1.9.4'
)


def a1111_png(path: Path, text: str = A1111_TEXT) -> Path:
    info = PngInfo()
    info.add_text("parameters", text)
    Image.new("RGB", (64, 72), (90, 60, 30)).save(path, pnginfo=info)
    return path


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture()
def alice(data_dir: Path) -> Components:
    components = Components()
    components.accounts.ensure("alice")
    components.store.add(
        "alice", [AttributeDraft(text="teal palette", category="color", polarity=Polarity.LIKE)]
    )
    return components


def generate(capsys, out: Path, *args: str) -> list[Path]:
    result = run_cli(
        capsys, "generate", "-u", "alice", "--model", "tiny", "--out", str(out), "--json", *args
    )
    assert result.code == 0, result.stderr
    return [Path(p) for p in json.loads(result.stdout)["files"]]


def test_a_tastemaker_png_names_its_sampler_and_model_and_is_made_again_exactly(
    alice: Components, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = ["--steps", "3", "--width", "64", "--height", "64", "--seed", "42"]
    sampler = ["--sampler", "DPM++ SDE Karras", "--num-images", "2", "--aesthetic-steps", "0"]
    _first, second = generate(capsys, tmp_path / "a", *settings, *sampler, "a lighthouse at dusk")
    metadata = read_png_metadata(second)
    fields = _a1111_fields(metadata["parameters"].split("\n")[-1])
    assert fields["Sampler"] == "DPM++ SDE Karras" and fields["Seed"] == "43"
    assert re.fullmatch(r"[0-9a-f]{10}", fields["Model hash"]) and fields["Model"] == "tiny"

    # The profile changes afterwards: the PNG's profile version is used, not the new one.
    alice.store.add(
        "alice", [AttributeDraft(text="neon glow", category="color", polarity=Polarity.LIKE)]
    )
    (again,) = generate(capsys, tmp_path / "b", "--from-png", str(second))
    assert np.array_equal(pixels(again), pixels(second))
    assert read_png_metadata(again)["tastemaker:liked_applied"] == "teal palette"

    # A flag given wins over the file's value.
    (changed,) = generate(capsys, tmp_path / "c", "--from-png", str(second), "--steps", "4")
    assert "Steps: 4, Sampler: DPM++ SDE Karras" in read_png_metadata(changed)["parameters"]
    assert not np.array_equal(pixels(changed), pixels(second))


def test_from_png_uses_the_thread_count_the_image_was_made_with(
    alice: Components,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The embedded worker leaves a core to the API, and another thread count can move a pixel
    by 1/255: the PNG records the count and --from-png uses it (unless the setting says)."""
    import os

    import torch

    from api.wiring import threads
    from api.wiring.threads import physical_cores

    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "_set_here", {})  # what this test's commands write stays here
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # restored after the test
        monkeypatch.setenv(name, os.environ.get(name, str(before)))
    monkeypatch.setenv("TASTEMAKER_TORCH_THREADS", "1")
    settings = ["--steps", "3", "--width", "64", "--height", "64", "--seed", "7"]
    try:
        (made,) = generate(capsys, tmp_path / "a", *settings, "a harbour at noon")
        assert read_png_metadata(made)["tastemaker:torch_threads"] == "1"
        monkeypatch.delenv("TASTEMAKER_TORCH_THREADS")
        result = run_cli(
            capsys, "generate", "-u", "alice", "--out", str(tmp_path / "b"), "--json",
            "--from-png", str(made),
        )  # fmt: skip
        assert result.code == 0, result.stderr
        (again,) = [Path(p) for p in json.loads(result.stdout)["files"]]
        assert np.array_equal(pixels(again), pixels(made))
        assert read_png_metadata(again)["tastemaker:torch_threads"] == "1"
        if physical_cores() > 1:  # the default differs from the PNG's count: said, and used
            assert "using 1 torch threads, as the PNG was made" in result.stderr
    finally:
        torch.set_num_threads(before)


def test_an_a1111_png_becomes_a_request_with_flags_over_it(
    alice: Components, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = a1111_png(tmp_path / "a1111.png")
    (made,) = generate(capsys, tmp_path / "out", "--from-png", str(source), "--guidance-scale", "4")
    chunks = read_png_metadata(made)
    assert chunks["tastemaker:prompt"] == "a red fox in the snow, (masterpiece:1.2)"
    assert chunks["tastemaker:negative_prompt"] == "blurry, lowres"
    assert chunks["tastemaker:seed"] == "1234"
    settings = json.loads(chunks["tastemaker:settings"])
    assert settings["steps"] == 3 and settings["sampler"] == "DPM++ 2M Karras"
    assert settings["guidance_scale"] == 4.0  # the flag, not the file's 6.5
    assert Image.open(made).size == (64, 72)


def test_the_a1111_text_is_read_as_a1111_reads_it(tmp_path: Path) -> None:
    prompt, negative, fields = parse_parameters(A1111_TEXT)
    assert prompt == "a red fox in the snow, (masterpiece:1.2)" and negative == "blurry, lowres"
    assert fields["TI hashes"] == "easyneg: c74b4e810b03" and fields["Version"] == "v1.9.4"
    recipe = read_recipe(a1111_png(tmp_path / "a.png"))
    assert recipe.options == {
        "steps": 3,
        "guidance_scale": 6.5,
        "seed": 1234,
        "width": 64,
        "height": 72,
        "sampler": "DPM++ 2M Karras",
    }
    assert recipe.model_hash == "6ce0161689" and "v1-5-pruned-emaonly" in recipe.notes[0]
    lone = read_recipe(a1111_png(tmp_path / "b.png", "just a prompt\nSteps: 9"))
    assert lone.prompt == "just a prompt\nSteps: 9" and lone.options == {}  # < 3 fields: prompt


def test_unreadable_or_hostile_pngs_are_one_line_errors(
    alice: Components, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "text.png").write_text("not a picture")
    Image.new("RGB", (8, 8)).save(tmp_path / "photo.jpg")
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    truncated = a1111_png(tmp_path / "whole.png").read_bytes()[:60]
    (tmp_path / "truncated.png").write_bytes(truncated)
    damaged = PngInfo()
    damaged.add_itxt("tastemaker:prompt", "a cat")
    damaged.add_itxt("tastemaker:seed", "7")
    damaged.add_itxt("tastemaker:settings", json.dumps({"steps": 10**6}))
    Image.new("RGB", (8, 8)).save(tmp_path / "damaged.png", pnginfo=damaged)
    a1111_png(tmp_path / "heun.png", A1111_TEXT.replace("DPM++ 2M", "Heun"))
    expected = {
        "text.png": "is not a readable PNG",
        "photo.jpg": "is a JPEG image, not a PNG",
        "plain.png": "has no generation parameters",
        "truncated.png": "is not a readable PNG",
        "damaged.png": "steps: Input should be less than or equal to 200",
        "heun.png": f"sampler 'Heun Karras', which tastemaker does not offer: pass --sampler "
        f"with one of {sampler_names()}",
        "missing.png": "does not exist",
    }
    out = tmp_path / "out"
    for name, message in expected.items():
        args = ["generate", "-u", "alice", "--model", "tiny", "--out", str(out)]
        result = run_cli(capsys, *args, "--from-png", str(tmp_path / name))
        assert result.code == 1 and message in result.stderr, (name, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert not out.exists()  # nothing was made
    with pytest.raises(UnreadablePng, match="tastemaker's chunks are damaged"):
        info = PngInfo()
        info.add_itxt("tastemaker:prompt", "a cat")
        info.add_itxt("tastemaker:seed", "seven")
        Image.new("RGB", (8, 8)).save(tmp_path / "seed.png", pnginfo=info)
        read_recipe(tmp_path / "seed.png")


def test_model_hashes_are_a1111s_for_a_file_and_pin_a_folder(tmp_path: Path, tiny_sd) -> None:
    checkpoint = tmp_path / "my-model.safetensors"
    checkpoint.write_bytes(b"weights" * 1000)
    identity = identify(str(checkpoint), None)
    assert identity.name == "my-model"
    assert identity.hash == hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:10]
    folder = tmp_path / "pipeline"
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text("{}")
    (folder / "unet" / "w.safetensors").write_bytes(b"a")
    before = identify(str(folder), None).hash
    (folder / "unet" / "w.safetensors").write_bytes(b"b")
    assert re.fullmatch(r"[0-9a-f]{10}", before) and identify(str(folder), None).hash != before
    assert identify("tiny", tiny_sd).hash == identify("tiny", tiny_sd).hash


def test_style_tokens_are_named_in_the_prompt_with_their_ti_hashes() -> None:
    import torch

    vectors = {"clip_l": torch.ones(2, 32)}
    digest = ti_hash(vectors, "tm-alice")
    exported = export_token(vectors, name="tm-alice", fmt="a1111", suffix=".safetensors")
    assert digest == hashlib.sha256(exported).hexdigest()[:12]  # what A1111 hashes the file to
    plan = {"style_prompt": "a cat, in the style of <style>", "negative_style_prompt": ""}
    metadata = {
        "tastemaker:prompt": "a cat",
        "tastemaker:seed": "1",
        "tastemaker:settings": json.dumps({"steps": 3, "sampler": "Euler a"}),
        "tastemaker:plan": json.dumps(plan),
        "tastemaker:ti_hashes": json.dumps({"style": ["tm-alice", digest]}),
    }
    text = a1111_parameters(metadata, (64, 64))
    assert text is not None
    prompt, _negative, fields = parse_parameters(text)
    assert prompt == "a cat, in the style of tm-alice"
    assert fields["TI hashes"] == f"tm-alice: {digest}" and fields["Sampler"] == "Euler a"
