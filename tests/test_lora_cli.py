"""LoRAs through every way in (issue 28, item 3): ``generate --lora FILE[:WEIGHT]`` and
``<lora:name:w>`` from TASTEMAKER_LORA_DIR make one image, the PNG's ``Lora hashes`` and
``--from-png``, one-line errors, HTTP names (422 when unknown), and a PALP adapter exported as
a LoRA that reproduces the PALP image."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from api.cli import app
from generation.lora_files import inspect_lora
from generation.tiny_lora import build_tiny_lora
from tests.doubles.admin_client import admin_app, new_user
from tests.test_palp_generation import make_bea

runner = CliRunner()
FAST = ["--steps", "2", "--width", "64", "--height", "64", "--seed", "5", "--aesthetic-steps", "0"]


@pytest.fixture()
def bea(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user with a liked attribute and two liked images, and a LoRA folder with two LoRAs."""
    make_bea(tmp_path)
    folder = tmp_path / "loras"
    build_tiny_lora(folder / "inkwash.safetensors", seed=1, text_encoder=True)
    build_tiny_lora(folder / "styles" / "grain.safetensors", seed=2, fmt="kohya")
    monkeypatch.setenv("TASTEMAKER_LORA_DIR", str(folder))
    return tmp_path / "out"


def generate(out: Path, *args: str, prompt: str = "a fox") -> tuple[str, Path]:
    result = runner.invoke(
        app,
        ["generate", "--user", "bea", "--model", "tiny", "--out", str(out), *FAST, *args, prompt],
    )
    assert result.exit_code == 0, result.output
    [png] = sorted(out.glob("*.png"))
    moved = out.parent / f"{out.name}-{time.monotonic_ns()}.png"
    png.rename(moved)
    return " ".join(result.output.split()), moved


def pixels(png: Path) -> np.ndarray:
    return np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)


def test_lora_flag_and_prompt_tag_make_one_image_recorded_for_a1111(
    bea: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "loras"
    _, plain = generate(bea)
    _, flagged = generate(bea, "--lora", f"{folder / 'inkwash.safetensors'}:0.7")
    _, tagged = generate(bea, prompt="a fox <lora:inkwash:0.7>")
    assert np.array_equal(pixels(flagged), pixels(tagged))
    assert not np.array_equal(pixels(flagged), pixels(plain))
    digest = inspect_lora(folder / "inkwash.safetensors").short_hash
    for png in (flagged, tagged):
        chunks = Image.open(png).text  # type: ignore[attr-defined]
        assert chunks["tastemaker:prompt"] == "a fox"
        parameters = chunks["parameters"]
        assert parameters.startswith("a fox <lora:inkwash:0.7>\n")
        assert f'Lora hashes: "inkwash: {digest}"' in parameters
    _, two = generate(
        bea, "--lora", str(folder / "inkwash.safetensors"), prompt="a fox <lora:grain:0.5>"
    )
    parameters = Image.open(two).text["parameters"]  # type: ignore[attr-defined]
    grain = inspect_lora(folder / "styles" / "grain.safetensors").short_hash
    assert f'Lora hashes: "inkwash: {digest}, grain: {grain}"' in parameters


def test_from_png_makes_a_lora_image_again_or_says_which_lora_is_missing(
    bea: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, made = generate(bea, prompt="a fox <lora:grain:0.8>")
    again = runner.invoke(
        app,
        ["generate", "--user", "bea", "--out", str(tmp_path / "again"), "--from-png", str(made)],
    )
    assert again.exit_code == 0, again.output
    [remade] = sorted((tmp_path / "again").glob("*.png"))
    assert np.array_equal(pixels(made), pixels(remade))
    digest = inspect_lora(tmp_path / "loras" / "styles" / "grain.safetensors").short_hash
    monkeypatch.setenv("TASTEMAKER_LORA_DIR", str(tmp_path / "elsewhere"))
    missing = runner.invoke(
        app, ["generate", "--user", "bea", "--out", str(tmp_path / "x"), "--from-png", str(made)]
    )
    assert missing.exit_code == 1
    said = " ".join(missing.output.split())
    assert "no LoRA named 'grain'" in said and f"grain (hash {digest})" in said, said
    assert "Traceback" not in missing.output and not (tmp_path / "x").exists()


def broken(path: Path) -> Path:
    path.write_bytes(b"\x00" * 20)
    return path


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d / "nothing-here.safetensors", "is not a file"),
        (lambda d: d / "weights.pt", ".safetensors"),
        (lambda d: broken(d / "broken.safetensors"), "not a valid safetensors file"),
        (lambda d: d / "loras" / "inkwash.safetensors:lots", "are .safetensors files"),
        (lambda d: Path(f"{d / 'loras' / 'inkwash.safetensors'}:9"), "out of range"),
    ],
)  # fmt: skip
def test_bad_lora_flags_are_one_line_errors_and_write_nothing(
    bea: Path, tmp_path: Path, make, words: str
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "weights.pt").write_bytes(b"pickle")
    flag = str(make(tmp_path))
    result = runner.invoke(
        app, ["generate", "--user", "bea", "--model", "tiny", "--out", str(bea), *FAST,
              "--lora", flag, "a fox"],
    )  # fmt: skip
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert words in said and "Traceback" not in result.output, said
    assert not bea.exists()


def test_unknown_prompt_lora_is_a_one_line_error(bea: Path) -> None:
    result = runner.invoke(
        app, ["generate", "--user", "bea", "--model", "tiny", "--out", str(bea), *FAST,
              "a fox <lora:nope:1>"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no LoRA named 'nope' in TASTEMAKER_LORA_DIR" in " ".join(result.output.split())


def test_a_palp_adapter_exports_as_a_lora_that_reproduces_the_palp_image(
    bea: Path, tmp_path: Path
) -> None:
    palp = ["--mode", "palp", "--palp-steps", "3", "--palp-rank", "4"]
    _, plain = generate(bea)
    _, adapted = generate(bea, *palp)
    out = tmp_path / "bea-palp.safetensors"
    exported = runner.invoke(
        app, ["style", "export", "--user", "bea", "--palp", str(adapted), "--out", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    assert "rank 4" in exported.output
    from safetensors import safe_open

    with safe_open(str(out), framework="numpy") as handle:
        keys = list(handle.keys())
        assert handle.metadata()["ss_network_dim"] == "4"
    assert keys and all(k.startswith("lora_unet_") for k in keys)
    assert {k.split(".", 1)[1] for k in keys} == {"lora_down.weight", "lora_up.weight", "alpha"}
    _, loaded = generate(bea, "--lora", str(out))
    assert not np.array_equal(pixels(adapted), pixels(plain))
    assert np.abs(pixels(loaded) - pixels(adapted)).max() <= 2, "the LoRA is the PALP adapter"
    refused = runner.invoke(
        app, ["style", "export", "--user", "bea", "--palp", str(plain), "--out", str(out)]
    )
    assert refused.exit_code == 1 and "was not made with PALP" in " ".join(refused.output.split())


def test_loras_over_http_by_name_only(tmp_path: Path) -> None:
    folder = tmp_path / "loras"
    build_tiny_lora(folder / "inkwash.safetensors", seed=1)
    (folder / "broken.safetensors").write_bytes(b"\x00" * 40)
    with admin_app(tmp_path / "data", model="tiny", lora_dir=folder) as (client, _):
        _, headers = new_user(client)
        body = {"prompt": "a fox", "steps": 2, "width": 64, "height": 64, "seed": 3}
        for loras, words in (
            ([{"name": "nope", "weight": 1}], "no LoRA named 'nope' in this server's LoRA folder"),
            ([{"name": "../inkwash"}], "name"),
            ([{"name": "/etc/passwd"}], "name"),
            ([{"name": "broken"}], "not a valid safetensors file"),
            ([{"name": "inkwash", "weight": 99}], "weight"),
        ):
            refused = client.post("/v1/generations", headers=headers, json={**body, "loras": loras})
            assert refused.status_code == 422, refused.text
            assert words in refused.json()["detail"], refused.text
        tagged = client.post(
            "/v1/generations", headers=headers, json={**body, "prompt": "a fox <lora:nope>"}
        )
        assert tagged.status_code == 422 and "nope" in tagged.json()["detail"]
        images = []
        for loras in ([], [{"name": "inkwash", "weight": 1.0}]):
            accepted = client.post(
                "/v1/generations", headers=headers, json={**body, "loras": loras}
            )
            assert accepted.status_code == 202, accepted.text
            job = accepted.json()["id"]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                status = client.get(f"/v1/generations/{job}", headers=headers).json()
                if status["status"] in ("done", "failed"):
                    break
                time.sleep(0.2)
            assert status["status"] == "done", status
            png = client.get(status["image_urls"][0], headers=headers).content
            images.append(png)
        from io import BytesIO

        plain, with_lora = (Image.open(BytesIO(data)) for data in images)
        assert not np.array_equal(np.asarray(plain), np.asarray(with_lora))
        assert "Lora hashes" in with_lora.text["parameters"]  # type: ignore[attr-defined]
        schema = client.get("/openapi.json").json()["components"]["schemas"]["GenerationCreate"]
        assert "loras" in schema["properties"]


def test_an_a1111_png_with_a_lora_is_read_and_a_different_file_is_noted(
    bea: Path, tmp_path: Path
) -> None:
    """A1111's parameters name the LoRA in the prompt and its hash in ``Lora hashes``: the tag
    finds the file by name, and a file whose hash differs is said before the image is made."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(
        "parameters",
        "a fox <lora:grain:0.5>\nSteps: 2, Sampler: DDIM, CFG scale: 5, Seed: 3, Size: 64x64, "
        'Model hash: 0123456789, Lora hashes: "grain: 0123456789ab"',
    )
    png = tmp_path / "a1111.png"
    Image.new("RGB", (64, 64)).save(png, pnginfo=info)
    out = tmp_path / "remade"
    result = runner.invoke(
        app, ["generate", "--user", "bea", "--model", "tiny", "--out", str(out),
              "--aesthetic-steps", "0", "--from-png", str(png)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "LoRA grain here (hash" in said and "(hash 0123456789ab): the result will differ" in said
    [made] = sorted(out.glob("*.png"))
    settings = Image.open(made).text["tastemaker:settings"]  # type: ignore[attr-defined]
    assert '"loras":[{"name":"grain","weight":0.5}]' in settings
