"""Rebuilding a profile for a new model (issue 26): ``profiles rebuild`` learns the style token
again for the new model from the same images, makes the aesthetic embedding for its CLIP, and
keeps the old ones; ``generate`` with a model the profile has no token for says so and names the
command. Through the real CLI, store and tiny pipelines (``tiny`` → ``tiny-sdxl``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from api.wiring.services import Components
from preference_store.models import AttributeDraft, Category, ImageReaction, Polarity
from tests.cli_runner import run_cli

FAST = ["--steps", "2", "--width", "64", "--height", "64", "--seed", "5"]


@pytest.fixture()
def ada(data_dir: Path, tmp_path: Path) -> Components:
    """ada's zines profile: a liked attribute and three liked images (two kept by a token)."""
    components = Components()
    components.accounts.ensure("ada")
    owner = components.profiles.create("ada", "zines").owner
    drafts = [AttributeDraft(text="magenta ink", category=Category.COLOR, polarity=Polarity.LIKE)]
    components.store.add(owner, drafts, reason="test")
    liked = []
    for i, colour in enumerate([(220, 20, 160), (200, 40, 150), (20, 200, 40)]):
        path = tmp_path / f"liked{i}.png"
        Image.new("RGB", (64, 64), colour).save(path)
        liked.append(ImageReaction(image_id=f"liked{i}", path=str(path), weight=1.0))
    components.store.set_images(owner, liked[:2], [])
    return components


def tokens(capsys: pytest.CaptureFixture[str]) -> list[str]:
    listed = run_cli(capsys, "style", "list", "--user", "ada", "--profile", "zines")
    assert listed.code == 0, listed.stderr
    return listed.stdout.splitlines()


def test_rebuild_learns_an_sdxl_token_from_the_same_images_and_keeps_the_old_one(
    ada: Components, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    zines = ("--user", "ada", "--profile", "zines")
    trained = run_cli(capsys, "style", "train", *zines, "--model", "tiny", "--steps", "3")
    assert trained.code == 0, trained.stderr
    owner = ada.profiles.owner("ada", "zines")
    (old,) = ada.styles.list_tokens(owner)
    assert old.model == "tiny" and sorted(old.image_ids) == ["liked0", "liked1"]
    # A third liked image added after the training is not among "the same images".
    profile = ada.store.profile(owner)
    extra = ImageReaction(image_id="liked2", path=str(tmp_path / "liked2.png"), weight=1.0)
    ada.store.set_images(owner, [*profile.liked_images, extra], [])

    out = str(tmp_path / "out")
    before = run_cli(
        capsys, "generate", *zines, "--model", "tiny-sdxl", *FAST, "--out", out, "a boat"
    )
    assert before.code == 0, before.stderr
    said = " ".join(before.stdout.split())
    assert "no style token for tiny-sdxl yet" in said
    assert "tastemaker profiles rebuild ada --profile zines --model tiny-sdxl" in said

    rebuilt = run_cli(
        capsys, "profiles", "rebuild", "ada", "--profile", "zines", "--model", "tiny-sdxl"
    )
    assert rebuilt.code == 0, rebuilt.stderr
    assert "aesthetic embedding for" in rebuilt.stdout and "made" in rebuilt.stdout
    assert f"on the same 2 images as {old.id[:8]} (tiny, kept)" in " ".join(rebuilt.stdout.split())

    records = {r.model: r for r in ada.styles.list_tokens(owner)}
    assert set(records) == {"tiny", "tiny-sdxl"}
    new = records["tiny-sdxl"]
    assert sorted(new.image_ids) == sorted(old.image_ids)
    assert "clip_g" in new.family and "clip_g" not in old.family
    assert new.steps == old.steps == 3 and new.vectors == old.vectors
    assert records["tiny"].id == old.id  # the old token stays, for its model
    assert len(ada.store.profile(owner).aesthetic_embeddings) >= 1
    # The default profile was not touched.
    assert ada.styles.list_tokens("ada") == []

    after = run_cli(
        capsys, "generate", *zines, "--model", "tiny-sdxl", *FAST, "--out", out, "--json", "a boat"
    )
    assert after.code == 0, after.stderr
    plan = json.loads(after.stdout[after.stdout.index("{") :])["plan"]
    assert new.id in plan["style_token"] and plan["style_skipped"] == []
    again = run_cli(
        capsys, "generate", *zines, "--model", "tiny", *FAST, "--out", out, "--json", "a boat"
    )
    assert old.id in json.loads(again.stdout[again.stdout.index("{") :])["plan"]["style_token"]

    # Nothing left to learn again for a model that has its token already.
    nothing = run_cli(capsys, "profiles", "rebuild", "ada", "--profile", "zines", "--model", "tiny")
    assert nothing.code == 0 and "no style token for another model" in nothing.stdout


def test_rebuild_refuses_what_it_cannot_do_in_one_line(
    ada: Components, capsys: pytest.CaptureFixture[str]
) -> None:
    for args, said in (
        (
            ("profiles", "rebuild", "ada", "--profile", "nope", "--model", "tiny"),
            "'nope' does not exist",
        ),
        (("profiles", "rebuild", "bob", "--model", "tiny"), "'bob' does not exist"),
        (("profiles", "rebuild", "ada", "--model", "/no/such/model"), ""),
    ):
        refused = run_cli(capsys, *args)
        assert refused.code == 1 and said in " ".join(refused.stderr.split()), (args, refused)
        assert "Traceback" not in refused.stderr
