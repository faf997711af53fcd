"""``tastemaker generate`` / ``score`` through the real CLI, store and tiny pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from api.cli import app
from api.wiring.services import Components
from generation.png import read_png_metadata
from generation.tiny import build_tiny_sd
from preference_store.models import AttributeDraft, Category, ImageReaction, Polarity

runner = CliRunner()
FAST = ["--steps", "2", "--width", "64", "--height", "64", "--seed", "5"]


@pytest.fixture()
def alice(data_dir: Path, tmp_path: Path) -> Path:
    """A user with attributes and two liked images (for the aesthetic embedding)."""
    components = Components()
    components.accounts.ensure("alice")
    drafts = [
        AttributeDraft(text="teal palette", category=Category.COLOR, polarity=Polarity.LIKE),
        AttributeDraft(text="flowing lines", category=Category.COMPOSITION, polarity=Polarity.LIKE),
        AttributeDraft(
            text="cluttered composition", category=Category.COMPOSITION, polarity=Polarity.DISLIKE
        ),
    ]
    components.store.add("alice", drafts, reason="test")
    liked = []
    for i, colour in enumerate([(0, 128, 128), (20, 110, 140)]):
        path = tmp_path / f"liked{i}.png"
        Image.new("RGB", (64, 64), colour).save(path)
        liked.append(ImageReaction(image_id=f"liked{i}", path=str(path), weight=1.0))
    components.store.set_images("alice", liked, [])
    return tmp_path / "out"


def test_generate_writes_pngs_with_provenance_and_says_tiny_is_noise(alice: Path) -> None:
    result = runner.invoke(
        app,
        [
            "generate",
            "--user",
            "alice",
            "--model",
            "tiny",
            "--out",
            str(alice),
            *FAST,
            "--num-images",
            "2",
            "black and white photo of a lighthouse",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "noise" in result.output
    assert "flowing lines" in result.output
    assert "contradicts the prompt" in result.output  # teal palette vs black and white
    files = sorted(alice.glob("*.png"))
    assert [f.name for f in files] == [
        "black-and-white-photo-of-a-lighthouse-5.png",
        "black-and-white-photo-of-a-lighthouse-6.png",
    ]
    meta = read_png_metadata(files[1])
    assert meta["tastemaker:prompt"] == "black and white photo of a lighthouse"
    assert meta["tastemaker:seed"] == "6"
    assert meta["tastemaker:liked_applied"] == "flowing lines"
    assert meta["tastemaker:disliked_applied"] == "cluttered composition"
    assert json.loads(meta["tastemaker:settings"])["steps"] == 2
    assert json.loads(meta["tastemaker:aesthetic"])["applied"] is True
    # The aesthetic embedding was computed once and stored for this profile version.
    components = Components()
    profile = components.store.profile("alice")
    assert components.store.get_aesthetic_embedding("alice", profile.version, "tiny-clip")


def test_zero_degree_and_zero_steps_give_the_plain_model_image(alice: Path) -> None:
    result = runner.invoke(
        app,
        [
            "generate",
            "-u",
            "alice",
            "--model",
            "tiny",
            "--out",
            str(alice),
            *FAST,
            "--vp-degree",
            "0",
            "--aesthetic-steps",
            "0",
            "--style-ref-scale",  # the liked images are style references too (issue 23)
            "0",
            "a lighthouse at dusk",
        ],
    )
    assert result.exit_code == 0, result.output
    (png,) = alice.glob("*.png")
    plain = build_tiny_sd()(
        "a lighthouse at dusk",
        num_inference_steps=2,
        guidance_scale=5.0,
        height=64,
        width=64,
        generator=torch.Generator().manual_seed(5),
    ).images[0]
    np.testing.assert_array_equal(np.asarray(Image.open(png)), np.asarray(plain))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--width", "65"], "multiple of 8"),
        (["--steps", "10000"], "less than or equal to 200"),
        (["--vp-degree", "nan"], "finite number"),
        (["--mode", "sideways"], "sideways"),
    ],
)
def test_bad_flags_are_refused_before_loading_anything(alice: Path, args, message) -> None:
    result = runner.invoke(
        app, ["generate", "-u", "alice", "--model", "tiny", "--out", str(alice), *args, "a cat"]
    )
    assert result.exit_code != 0
    assert message in result.output
    assert not alice.exists()


def test_empty_prompt_unknown_model_and_unknown_user_are_clear_errors(alice: Path) -> None:
    empty = runner.invoke(app, ["generate", "-u", "alice", "--model", "tiny", "  "])
    assert empty.exit_code == 1 and "prompt is empty" in empty.output
    unknown = runner.invoke(app, ["generate", "-u", "alice", "--model", "nobody/nothing", "a cat"])
    assert unknown.exit_code == 1 and "models pull nobody/nothing" in unknown.output
    stranger = runner.invoke(app, ["generate", "-u", "mallory", "--model", "tiny", "a cat"])
    assert stranger.exit_code != 0
    assert "mallory" in str(stranger.exception or "") + stranger.output


def test_score_prints_a_score_in_0_1_per_image(alice: Path, tmp_path: Path) -> None:
    teal = tmp_path / "liked0.png"
    yellow = tmp_path / "yellow.png"
    Image.new("RGB", (64, 64), (250, 240, 10)).save(yellow)
    result = runner.invoke(
        app, ["score", "-u", "alice", "--model", "tiny", "--json", str(teal), str(yellow)]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [Path(r["image"]).name for r in rows] == ["liked0.png", "yellow.png"]
    assert all(0.0 <= r["score"] <= 1.0 for r in rows)
    assert rows[0]["score"] > rows[1]["score"]  # the liked image is what alice likes
    plain = runner.invoke(app, ["score", "-u", "alice", "--model", "tiny", str(teal)])
    assert plain.exit_code == 0 and "liked0.png" in plain.output
    missing = runner.invoke(app, ["score", "-u", "alice", str(tmp_path / "nope.png")])
    assert missing.exit_code == 1 and "nope.png: file not found" in missing.output


def test_aesthetic_embedding_export_import_round_trip_in_a1111_format(
    alice: Path, tmp_path: Path
) -> None:
    missing = runner.invoke(app, ["aesthetic-export", "-u", "alice", "--model", "tiny", "x.pt"])
    assert missing.exit_code == 1 and "no aesthetic embedding" in missing.output
    scored = runner.invoke(
        app, ["score", "-u", "alice", "--model", "tiny", str(tmp_path / "liked0.png")]
    )
    assert scored.exit_code == 0, scored.output  # makes and stores the embedding
    exported = tmp_path / "alice.pt"
    result = runner.invoke(
        app, ["aesthetic-export", "-u", "alice", "--model", "tiny", str(exported)]
    )
    assert result.exit_code == 0, result.output
    tensor = torch.load(exported, weights_only=True)
    assert tensor.shape == (1, 32)

    edited = tmp_path / "edited.pt"
    torch.save(-tensor, edited)
    result = runner.invoke(app, ["aesthetic-import", "-u", "alice", "--model", "tiny", str(edited)])
    assert result.exit_code == 0, result.output
    components = Components()
    version = components.store.profile("alice").version
    stored = components.store.get_aesthetic_embedding("alice", version, "tiny-clip")
    torch.testing.assert_close(torch.tensor(stored), -tensor[0], rtol=1e-5, atol=1e-6)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"junk")
    bad = runner.invoke(app, ["aesthetic-import", "-u", "alice", "--model", "tiny", str(junk)])
    assert bad.exit_code == 1 and "not an aesthetic embedding" in bad.output


def test_the_cli_and_a_job_worker_make_the_same_image(alice: Path) -> None:
    """One way to run a generation: ``generate`` and the worker's handler share render_request."""
    from api.wiring.jobs import job_kinds, load_handlers
    from generation.request import GenerationRequest
    from generation.settings import GenerationSettings
    from jobs.progress import LocalProgress
    from jobs.repository import JobRepository
    from jobs.runner import JobExecutor

    prompt = "a lighthouse at dusk"
    result = runner.invoke(
        app, ["generate", "--user", "alice", "--model", "tiny", "--out", str(alice), *FAST, prompt]
    )
    assert result.exit_code == 0, result.output
    [from_cli] = sorted(alice.glob("*.png"))

    components = Components()
    jobs = JobRepository(components.engine, job_kinds())
    settings = GenerationSettings(steps=2, width=64, height=64, seed=5)
    job = jobs.create("alice", "generation", GenerationRequest(prompt=prompt, settings=settings))
    executor = JobExecutor(jobs, load_handlers(components), LocalProgress())
    assert executor.run_next() is not None
    done = jobs.get(job.id)
    assert done is not None and done.status == "done", done
    from_job = components.settings.generations_dir / job.id / "image-0.png"
    cli_pixels = np.asarray(Image.open(from_cli), dtype=np.int16)
    job_pixels = np.asarray(Image.open(from_job), dtype=np.int16)
    # The same request, seed and weights: the same image up to float rounding (a pixel may
    # differ by one level where the two paths' CPU kernels sum in another order); a different
    # prompt, seed or profile changes most pixels by far more.
    assert np.abs(cli_pixels - job_pixels).max() <= 2
    cli_meta, job_meta = read_png_metadata(from_cli), read_png_metadata(from_job)
    aesthetic = [json.loads(m.pop("tastemaker:aesthetic")) for m in (cli_meta, job_meta)]
    assert cli_meta == job_meta  # prompt, seed, settings, plan: all the same
    assert aesthetic[0]["note"] == aesthetic[1]["note"] and aesthetic[1]["applied"]


def test_the_same_seed_twice_numbers_the_new_file_and_keeps_the_old(alice: Path) -> None:
    """As A1111 does: name.png, then name-2.png, name-3.png; no image is overwritten."""
    args = ["generate", "--user", "alice", "--model", "tiny", "--out", str(alice), *FAST]
    first = runner.invoke(app, [*args, "a lighthouse"])
    assert first.exit_code == 0, first.output
    original = (alice / "a-lighthouse-5.png").read_bytes()
    (alice / "a-lighthouse-5-2.png").write_bytes(b"someone else's file")
    second = runner.invoke(app, [*args, "--negative-prompt", "fog", "a lighthouse"])
    assert second.exit_code == 0, second.output
    assert f"wrote {alice / 'a-lighthouse-5-3.png'}" in second.output
    assert (alice / "a-lighthouse-5.png").read_bytes() == original
    assert (alice / "a-lighthouse-5-2.png").read_bytes() == b"someone else's file"
    assert read_png_metadata(alice / "a-lighthouse-5-3.png")["tastemaker:negative_prompt"] == "fog"
    help_text = runner.invoke(app, ["generate", "--help"], terminal_width=200).output
    assert "PROMPT-SEED-2.png" in " ".join(help_text.split())


def test_weighted_long_prompts_generate_and_the_cut_is_shown(alice: Path) -> None:
    long = ", ".join(f"quiet (harbour:1.2) {i} at dusk" for i in range(20))
    result = runner.invoke(
        app,
        [
            "generate",
            "--user",
            "alice",
            "--model",
            "tiny",
            "--out",
            str(alice),
            *FAST,
            "--negative-prompt",
            "(blurry:1.4) BREAK [grain]",
            long,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "cut:            prompt: 4 chunks, only the first 3" in result.output
    assert "weight 1.14" in result.output  # an attribute's strength (0.7) as its weight
    (path,) = alice.glob("*.png")
    meta = read_png_metadata(path)
    assert meta["tastemaker:prompt"] == long
    assert meta["tastemaker:negative_prompt"] == "(blurry:1.4) BREAK [grain]"
    plan = json.loads(meta["tastemaker:plan"])
    assert plan["chunks"]["prompt"] == 4 and plan["chunks"]["negative_prompt"] == 2
    assert plan["positive_weighted"] == "(flowing lines:1.14), (teal palette:1.14)"
