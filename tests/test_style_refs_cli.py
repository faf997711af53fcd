"""``tastemaker generate`` with style references, through the real CLI, store and tiny model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from api.cli import app
from api.wiring.services import Components
from generation.png import read_png_metadata
from preference_store.models import ImageReaction

runner = CliRunner()
FAST = ["--model", "tiny", "--steps", "2", "--width", "64", "--height", "64", "--seed", "5"]


@pytest.fixture()
def alice(data_dir: Path, tmp_path: Path) -> Path:
    """A user whose liked images are three coloured squares of different strengths."""
    components = Components()
    components.accounts.ensure("alice")
    liked = []
    for i, (colour, weight) in enumerate([((0, 128, 128), 0.4), ((200, 40, 10), 1.0)]):
        path = tmp_path / f"liked{i}.png"
        Image.new("RGB", (64, 64), colour).save(path)
        liked.append(ImageReaction(image_id=f"liked{i}", path=str(path), weight=weight))
    components.store.set_images("alice", liked, [])
    return tmp_path


def generate(out: Path, *extra: str) -> tuple[np.ndarray, dict[str, str], str]:
    result = runner.invoke(
        app, ["generate", "--user", "alice", *FAST, "--out", str(out), *extra, "a fox"]
    )
    assert result.exit_code == 0, result.output
    (png,) = sorted(out.glob("*.png"))
    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
    return pixels, read_png_metadata(png), result.output


def test_liked_images_steer_by_default_and_the_output_says_so(alice: Path) -> None:
    logged: list[logging.LogRecord] = []
    catch = logging.Handler()
    catch.emit = logged.append  # type: ignore[method-assign]
    diffusers_log = logging.getLogger("diffusers.models.modeling_utils")
    diffusers_log.addHandler(catch)
    try:
        with_refs, meta, output = generate(alice / "a")
    finally:
        diffusers_log.removeHandler(catch)
    # diffusers' load_ip_adapter warned "modules … should be kept in float32: []" every run
    assert not [r for r in logged if "float32" in r.getMessage()]
    without, off_meta, off_output = generate(alice / "b", "--no-style-ref")
    zero, _, _ = generate(alice / "c", "--style-ref-scale", "0")
    assert np.abs(with_refs - without).max() > 0
    assert np.array_equal(zero, without)
    refs = json.loads(meta["tastemaker:style_refs"])
    assert refs["images"] == ["liked1", "liked0"]  # strongest first
    assert (refs["scale"], refs["mode"], refs["origin"]) == (0.6, "style", "profile")
    adapter = 'IP-Adapter: "tiny-ip-adapter (weight 0.6, style, 2 references)"'  # A1111 quoting
    assert adapter in meta["parameters"]
    assert "style refs:     profile images liked1, liked0" in output
    assert "IP-Adapter" not in off_meta["parameters"]
    assert "style refs:     -" in off_output


def test_ref_files_and_a_folder_replace_the_liked_images(alice: Path) -> None:
    folder = alice / "moodboard"
    folder.mkdir()
    for i, colour in enumerate([(250, 250, 0), (0, 0, 0)]):
        Image.new("RGB", (40, 40), colour).save(folder / f"m{i}.png")
    _, meta, output = generate(alice / "a", "--ref", str(folder), "--style-ref-mode", "full")
    refs = json.loads(meta["tastemaker:style_refs"])
    assert (refs["images"], refs["origin"], refs["mode"]) == (
        ["m0.png", "m1.png"],
        "request",
        "full",
    )
    assert "request images m0.png, m1.png" in output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not an image at all", "reference bad.png: not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "reference bad.png"),
    ],
)
def test_a_bad_ref_file_is_a_one_line_error_and_writes_nothing(
    alice: Path, content: bytes, message: str
) -> None:
    (alice / "bad.png").write_bytes(content)
    out = alice / "out"
    result = runner.invoke(
        app,
        [
            "generate",
            "--user",
            "alice",
            *FAST,
            "--out",
            str(out),
            "--ref",
            str(alice / "bad.png"),
            "a fox",
        ],
    )
    assert result.exit_code != 0
    assert message in result.output
    assert not out.exists() or not list(out.iterdir())


def test_too_many_ref_files_and_contradicting_flags_are_refused(alice: Path) -> None:
    many = alice / "many"
    many.mkdir()
    for i in range(20):
        (many / f"{i}.png").write_bytes(b"x")
    result = runner.invoke(app, ["generate", "--user", "alice", *FAST, "--ref", str(many), "a fox"])
    assert result.exit_code != 0 and "at most 16 per request" in result.output
    both = runner.invoke(
        app, ["generate", "--user", "alice", *FAST, "--ref", str(many), "--no-style-ref", "a fox"]
    )
    assert both.exit_code != 0 and "contradict" in both.output
