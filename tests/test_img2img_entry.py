"""img2img through every way in (issue 28.4): `generate --init-image FILE --strength S`, HTTP
`"init_image": <uploaded reference id>`, the PNG's `Denoising strength`, `--from-png` with the
init image given again; bad input is one line or a 4xx and nothing is kept."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.wiring.services import Components
from generation.png import INIT_IMAGE_CHUNK, read_png_metadata
from generation.reference_ids import content_id
from tests.cli_runner import run_cli
from tests.doubles.admin_client import admin_app, new_user

SMALL = ["--steps", "3", "--width", "64", "--height", "64", "--aesthetic-steps", "0"]


def png_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (72, 56)) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, colour)
    image.paste((30, 200, 90), (0, 0, size[0] // 2, size[1] // 2))
    image.save(buffer, "PNG")
    return buffer.getvalue()


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture()
def alice(data_dir: Path) -> Components:
    components = Components()
    components.accounts.ensure("alice")
    return components


def generate(capsys, out: Path, *args: str) -> Any:  # type: ignore[no-untyped-def]
    return run_cli(
        capsys, "generate", "-u", "alice", "--model", "tiny", "--out", str(out), "--json", *args
    )


def test_cli_img2img_writes_the_strength_and_from_png_needs_the_init_image(
    alice: Components, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init = tmp_path / "init.png"
    init.write_bytes(png_bytes((240, 110, 40)))
    made = generate(capsys, tmp_path / "a", *SMALL, "--seed", "5", "--init-image", str(init), "x")
    assert made.code == 0, made.stderr
    (first,) = [Path(p) for p in json.loads(made.stdout)["files"]]
    chunks = read_png_metadata(first)
    assert "Denoising strength: 0.6" in chunks["parameters"]  # the default, as A1111 writes it
    assert chunks[INIT_IMAGE_CHUNK] == content_id(init.read_bytes())
    assert json.loads(chunks["tastemaker:settings"])["strength"] == 0.6

    # --from-png without the init image says what it needs, in one line, and writes nothing.
    missing = generate(capsys, tmp_path / "b", "--from-png", str(first))
    assert missing.code == 1 and "--init-image" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and not (tmp_path / "b").exists()
    again = generate(capsys, tmp_path / "b", "--from-png", str(first), "--init-image", str(init))
    assert again.code == 0, again.stderr
    (remade,) = [Path(p) for p in json.loads(again.stdout)["files"]]
    assert np.array_equal(pixels(remade), pixels(first))

    # Another init image is allowed, with a note; the pixels then differ.
    other = tmp_path / "other.png"
    other.write_bytes(png_bytes((20, 60, 220)))
    changed = generate(capsys, tmp_path / "c", "--from-png", str(first), "--init-image", str(other))
    assert changed.code == 0 and "not the image" in changed.stderr
    (different,) = [Path(p) for p in json.loads(changed.stdout)["files"]]
    assert not np.array_equal(pixels(different), pixels(first))

    # Strength 1 is text-to-image: the same pixels as without an init image.
    text = generate(capsys, tmp_path / "d", *SMALL, "--seed", "5", "x")
    full = generate(
        capsys,
        tmp_path / "e",
        *SMALL,
        "--seed",
        "5",
        "--init-image",
        str(init),
        "--strength",
        "1",
        "x",
    )
    (plain,), (strong,) = (json.loads(r.stdout)["files"] for r in (text, full))
    assert np.array_equal(pixels(Path(plain)), pixels(Path(strong)))


@pytest.mark.parametrize(
    ("make", "flags", "words"),
    [
        (None, ["--init-image", "{dir}/nowhere.png"], "nowhere.png"),
        (b"plain text, not a picture", ["--init-image", "{file}"], "not an image"),
        (png_bytes((1, 2, 3), (256, 256))[:300], ["--init-image", "{file}"], "truncated"),
        (png_bytes((1, 2, 3), (4100, 8)), ["--init-image", "{file}"], "4096"),
        (png_bytes((1, 2, 3)), ["--init-image", "{file}", "--strength", "1.5"], "strength"),
        (png_bytes((1, 2, 3)), ["--init-image", "{file}", "--strength", "-0.1"], "strength"),
        (None, ["--strength", "0.5"], "give --init-image"),
    ],
)
def test_cli_bad_init_image_or_strength_is_one_line_and_writes_nothing(
    alice: Components,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: bytes | None,
    flags: list[str],
    words: str,
) -> None:
    file = tmp_path / "init.png"
    if make is not None:
        file.write_bytes(make)
    typed = [f.format(dir=tmp_path, file=file) for f in flags]
    result = generate(capsys, tmp_path / "out", *SMALL, *typed, "a fox")
    assert result.code == 1, result.stdout
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "out").exists()


def upload(client: TestClient, headers: dict[str, str], data: bytes) -> str:
    answer = client.post(
        "/v1/references", content=data, headers={**headers, "Content-Type": "image/png"}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def finish(client: TestClient, headers: dict[str, str], job: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while (state := client.get(f"/v1/generations/{job}", headers=headers).json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    return state  # type: ignore[no-any-return]


def test_http_img2img_from_an_uploaded_reference_and_bad_input_is_4xx(tmp_path: Path) -> None:
    with admin_app(tmp_path / "data") as (client, _settings):
        _alice, alice = new_user(client)
        _bob, bob = new_user(client)
        mine = upload(client, alice, png_bytes((240, 110, 40)))
        theirs = upload(client, bob, png_bytes((10, 10, 250)))
        body = {"prompt": "a fox", "steps": 3, "width": 64, "height": 64, "seed": 2}
        jobs = client.app.state.jobs.repository  # type: ignore[attr-defined]
        refused = [
            ({"init_image": theirs}, 404, "no reference"),  # bob's: as if there were none
            ({"init_image": "0" * 24}, 404, "no reference"),
            ({"init_image": "not-an-id"}, 422, "init_image"),
            ({"init_image": mine, "strength": 1.5}, 422, "strength"),
            ({"init_image": mine, "strength": "0.5"}, 422, "strength"),  # JSON numbers only
            ({"strength": 0.5}, 422, "give init_image"),
        ]
        for extra, status, words in refused:
            answer = client.post("/v1/generations", headers=alice, json={**body, **extra})
            assert answer.status_code == status and words in answer.json()["detail"], answer.text
        assert jobs.count("queued") == jobs.count("done") == 0  # nothing was kept

        accepted = client.post(
            "/v1/generations", headers=alice, json={**body, "init_image": mine, "strength": 0.4}
        )
        assert accepted.status_code == 202, accepted.text
        state = finish(client, alice, accepted.json()["id"])
        assert state["status"] == "done", state
        image = Image.open(io.BytesIO(client.get(state["image_urls"][0], headers=alice).content))
        assert "Denoising strength: 0.4" in image.text["parameters"]
        assert image.text[INIT_IMAGE_CHUNK] == mine and image.size == (64, 64)


def test_an_a1111_img2img_png_gives_its_denoising_strength(tmp_path: Path) -> None:
    from generation.infotext import read_recipe
    from tests.test_png_reproduce import a1111_png

    common = "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x72"
    img2img = a1111_png(tmp_path / "i.png", f"a fox\n{common}, Denoising strength: 0.45")
    hires = a1111_png(
        tmp_path / "h.png", f"a fox\n{common}, Denoising strength: 0.7, Hires upscale: 2"
    )
    assert read_recipe(img2img).options["strength"] == 0.45
    assert "strength" not in read_recipe(hires).options  # hires fix, not img2img
