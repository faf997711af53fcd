"""PALP as a generation mode: the CLI, the cache, the one request path, and its bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import ValidationError
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from api.settings import Settings
from api.wiring.services import Components
from generation.generator import PersonalizedGenerator
from generation.palp_adapters import AdapterCache
from generation.render import render_request
from generation.request import GenerationRequest, PalpRequest
from generation.settings import GenerationSettings
from generation.tiny import build_tiny_sd
from preference_store.models import AttributeDraft, Category, ImageReaction, Polarity

runner = CliRunner()
FAST = ["--steps", "2", "--width", "64", "--height", "64", "--seed", "5", "--aesthetic-steps", "0"]
PALP = ["--mode", "palp", "--palp-steps", "3", "--palp-rank", "4"]


@pytest.fixture()
def bea(data_dir: Path, tmp_path: Path) -> Path:
    """A user with a liked attribute and two liked images with files."""
    return make_bea(tmp_path)


def make_bea(tmp_path: Path) -> Path:
    """bea, with her teal palette and two liked images; the folder for outputs."""
    components = Components()
    components.accounts.ensure("bea")
    drafts = [AttributeDraft(text="teal palette", category=Category.COLOR, polarity=Polarity.LIKE)]
    components.store.add("bea", drafts, reason="test")
    liked = []
    for i, colour in enumerate([(0, 128, 128), (20, 110, 140)]):
        path = tmp_path / f"liked{i}.png"
        Image.new("RGB", (64, 64), colour).save(path)
        liked.append(ImageReaction(image_id=f"liked{i}", path=str(path), weight=1.0))
    components.store.set_images("bea", liked, [])
    return tmp_path / "out"


def generate(out: Path, *args: str) -> tuple[str, np.ndarray]:
    result = runner.invoke(
        app, ["generate", "--user", "bea", "--model", "tiny", "--out", str(out), *FAST, *args, "x"]
    )
    assert result.exit_code == 0, result.output
    [png] = sorted(out.glob("*.png"))
    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
    png.unlink()
    return " ".join(result.output.split()), pixels


def test_palp_trains_once_per_prompt_then_reuses_the_adapter(bea: Path) -> None:
    first, trained = generate(bea, *PALP)
    assert "PALP adapter: rank 4, 3 steps, trained in" in first
    assert "[V] = palette" in first  # no style token yet: a word of the strongest liked one
    again, reused = generate(bea, *PALP)
    assert "reused from the cache" in again
    assert np.array_equal(trained, reused)
    _, plain_embeds = generate(bea)
    assert not np.array_equal(trained, plain_embeds), "the adapter changes the image"


def test_a_palp_image_records_its_training_and_from_png_makes_it_again(bea: Path) -> None:
    """Issue 27, item 8: the PNG says PALP and its options; ``--from-png`` trains (or finds)
    the same adapter and makes the same pixels."""
    result = runner.invoke(
        app,
        ["generate", "--user", "bea", "--model", "tiny", "--out", str(bea), *FAST, *PALP,
         "--palp-alpha", "9", "x"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [png] = sorted(bea.glob("*.png"))
    chunks = Image.open(png).text  # type: ignore[attr-defined]
    assert '"steps":3' in chunks["tastemaker:palp"] and '"rank":4' in chunks["tastemaker:palp"]
    assert 'tastemaker PALP: "3 steps, rank 4' in chunks["parameters"]
    assert "alpha 9.0" in chunks["parameters"]
    again_dir = bea / "again"
    again = runner.invoke(
        app, ["generate", "--user", "bea", "--out", str(again_dir), "--from-png", str(png)]
    )
    assert again.exit_code == 0, again.output
    [made] = sorted(again_dir.glob("*.png"))
    assert np.array_equal(np.asarray(Image.open(png)), np.asarray(Image.open(made)))
    assert Image.open(made).text["tastemaker:palp"] == chunks["tastemaker:palp"]  # type: ignore[attr-defined]


def test_zero_palp_steps_is_the_embeds_image(bea: Path) -> None:
    _, embeds = generate(bea)
    _, palp = generate(bea, "--mode", "palp", "--palp-steps", "0")
    assert np.array_equal(embeds, palp)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--palp-alpha", "5", "--palp-beta", "7.5"], "must be greater than beta"),
        (["--palp-rank", "0"], "rank"),
        (["--palp-steps", "5000"], "steps"),
    ],
)
def test_bad_palp_options_are_one_line_errors(bea: Path, args: list[str], message: str) -> None:
    result = runner.invoke(
        app,
        [
            "generate",
            "--user",
            "bea",
            "--model",
            "tiny",
            "--out",
            str(bea),
            *FAST,
            *PALP,
            *args,
            "x",
        ],
    )
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not list(bea.glob("*.png")), "nothing is generated"


def test_palp_needs_liked_images(data_dir: Path, tmp_path: Path) -> None:
    Components().accounts.ensure("cy")
    result = runner.invoke(
        app,
        ["generate", "--user", "cy", "--model", "tiny", "--out", str(tmp_path), *FAST, *PALP, "x"],
    )
    assert result.exit_code == 1
    assert "PALP learns from the images you liked" in " ".join(result.output.split())


def test_a_palp_request_leaves_the_shared_unet_as_it_was(bea: Path, tmp_path: Path) -> None:
    pipe = build_tiny_sd(seed=0)
    before = {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    generator = PersonalizedGenerator(pipe, model_name="tiny")
    request = GenerationRequest(
        prompt="a lighthouse",
        settings=GenerationSettings(steps=2, width=64, height=64, seed=1, aesthetic_steps=0),
        palp=PalpRequest(steps=2, rank=4),
        include_plain=True,
    )
    steps: list[int] = []
    rendered = render_request(
        generator,
        Components().store,
        "bea",
        request,
        lambda *_: "",
        on_step=lambda done, total: steps.append(done),
        palp_cache=AdapterCache(tmp_path / "adapters", max_bytes=10**8),
    )
    assert steps[-1] == request.total_steps() == 2 + 2 * 2  # training, then both images
    assert rendered.summary()["palp"]["steps"] == 2
    after = pipe.unet.state_dict()
    assert set(after) == set(before)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_palp_requests_never_share_a_batch_and_cost_their_training() -> None:
    settings = GenerationSettings(steps=20, width=512, height=512)
    one = GenerationRequest(prompt="a", settings=settings, palp=PalpRequest(steps=100))
    two = GenerationRequest(prompt="a", settings=settings, palp=PalpRequest(steps=100))
    assert one.batch_key() != two.batch_key()
    plain = GenerationRequest(prompt="a", settings=settings)
    assert one.pixel_steps() == plain.pixel_steps() + 512 * 512 * 3 * 100
    with pytest.raises(ValidationError, match="greater than beta"):
        PalpRequest(alpha=1.0, beta=2.0)


def test_palp_over_http_refuses_bad_options_with_422(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", model="tiny", admin_token="admin")
    with TestClient(create_app(settings)) as client:
        made = client.post(
            "/v1/users", json={"id": "dee"}, headers={"Authorization": "Bearer admin"}
        )
        headers = {"Authorization": f"Bearer {made.json()['token']}"}
        body = {"prompt": "x", "mode": "palp", "palp_alpha": 5, "palp_beta": 7.5}
        refused = client.post("/v1/generations", json=body, headers=headers)
        assert refused.status_code == 422
        assert "must be greater than beta" in refused.text
        too_many = {"prompt": "x", "mode": "palp", "palp_steps": 100_000}
        assert client.post("/v1/generations", json=too_many, headers=headers).status_code == 422
