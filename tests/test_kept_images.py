"""Liked pictures are kept by content, so they survive the files moving; `prefs images` lists
them and removes one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from api.wiring.agent import gallery_image_keeper
from api.wiring.services import Components
from generation.reaction_images import open_reaction_image
from preference_store.models import ImageReaction
from tests.cli_runner import run_cli


def test_a_liked_gallery_image_still_opens_after_its_file_is_gone(
    data_dir: Path, tmp_path: Path
) -> None:
    blobs = Components().blobs
    source = tmp_path / "sea.png"
    Image.new("RGB", (16, 16), (0, 90, 120)).save(source)
    keep = gallery_image_keeper(blobs)
    reference = keep(source)
    assert reference.startswith("blob:gallery/") and keep(source) == reference  # stored once
    source.unlink()
    reaction = ImageReaction(image_id="sea", path=reference, weight=1.0)
    assert open_reaction_image(reaction, blobs).getpixel((0, 0)) == (0, 90, 120)


def test_prefs_images_lists_where_each_is_kept_and_removes_one(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    components = Components()
    components.accounts.ensure("alice")
    kept = tmp_path / "kept.png"
    Image.new("RGB", (16, 16)).save(kept)
    liked = [
        ImageReaction(image_id="gallery-sea", path=gallery_image_keeper(components.blobs)(kept)),
        ImageReaction(image_id="old-file", path=str(tmp_path / "moved-away.png")),
    ]
    disliked = [ImageReaction(image_id="clutter", path=None, weight=0.5)]
    components.store.set_images("alice", liked, disliked)

    listed = run_cli(capsys, "prefs", "images", "alice", "--json")
    assert listed.code == 0, listed.stderr
    rows = {row["image_id"]: (row["reaction"], row["where"]) for row in json.loads(listed.stdout)}
    assert rows == {
        "gallery-sea": ("liked", "kept by content"),
        "old-file": ("liked", f"file {tmp_path / 'moved-away.png'} (missing)"),
        "clutter": ("disliked", "no file"),
    }
    assert "3 images" in run_cli(capsys, "prefs", "images", "alice").stdout

    removed = run_cli(capsys, "prefs", "images", "alice", "--remove", "old")
    assert removed.code == 0 and "removed old-file" in removed.stdout
    profile = Components().store.profile("alice")
    assert [r.image_id for r in profile.liked_images] == ["gallery-sea"]
    assert [r.image_id for r in profile.disliked_images] == ["clutter"]
    unknown = run_cli(capsys, "prefs", "images", "alice", "--remove", "nothing")
    assert unknown.code == 1 and "alice has no image 'nothing'" in unknown.stderr


def test_prefs_images_keep_moves_file_images_into_the_blob_store(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    components = Components()
    components.accounts.ensure("alice")
    old = tmp_path / "old.png"
    Image.new("RGB", (16, 16), (200, 10, 10)).save(old)
    gone = str(tmp_path / "gone.png")
    liked = [
        ImageReaction(image_id="old", path=str(old)),
        ImageReaction(image_id="gone", path=gone),
    ]
    components.store.set_images("alice", liked, [])
    result = run_cli(capsys, "prefs", "images", "alice", "--keep")
    assert result.code == 0 and "kept 1 image of alice's by content" in result.stdout
    old.unlink()
    first, second = Components().store.profile("alice").liked_images
    assert second.path == gone  # a missing file is left for `prefs images` to show
    assert open_reaction_image(first, Components().blobs).getpixel((0, 0)) == (200, 10, 10)
