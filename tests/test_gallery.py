"""Galleries: the built-in procedural one, people's own folders, and `gallery build` with the
tiny Stable Diffusion pipeline."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from diffusers import StableDiffusionPipeline
from PIL import Image

from agent.builtin_gallery import ensure_builtin_gallery
from agent.gallery import MANIFEST, GalleryError, load_gallery
from agent.gallery_build import build_gallery, diffusers_renderer, shipped_prompts
from agent.policy import TASTE_CATEGORIES
from tests.cli_runner import CliResult, run_cli


def ok(result: CliResult) -> str:
    assert result.code == 0, result.stderr
    return result.stdout


def test_processes_rendering_the_builtin_gallery_at_once_do_not_collide(tmp_path: Path) -> None:
    """The server and a CLI command may both render the cache on first use: each write goes
    through its own temporary file, so nobody fails and no file is left half-written."""
    folder = tmp_path / "shared"
    with ThreadPoolExecutor(max_workers=4) as pool:
        galleries = list(pool.map(lambda _: ensure_builtin_gallery(folder), range(4)))
    assert all(len(g) == len(galleries[0]) for g in galleries)
    for image in galleries[0].images:
        with Image.open(galleries[0].path(image)) as picture:
            picture.load()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


def test_builtin_gallery_is_rendered_once_and_diverse(tmp_path: Path) -> None:
    gallery = ensure_builtin_gallery(tmp_path / "g")
    assert len(gallery) >= 24
    ids = [image.id for image in gallery.images]
    assert len(set(ids)) == len(ids)
    covered = set()
    for image in gallery.images:
        with Image.open(gallery.path(image)) as picture:
            assert picture.size == (256, 256)
        assert image.description and len(image.description) < 120
        assert len(image.categories()) >= 3
        covered |= image.categories()
    assert covered >= TASTE_CATEGORIES  # every kind of feature can be learned
    palettes = {image.tags[0].text for image in gallery.images}
    assert len(palettes) == len(gallery)  # no two images share their colour tag

    stamp = gallery.path(gallery.images[0]).stat().st_mtime_ns
    again = ensure_builtin_gallery(tmp_path / "g")
    assert gallery.path(again.images[0]).stat().st_mtime_ns == stamp  # cached, not re-rendered
    other = ensure_builtin_gallery(tmp_path / "h")
    first = gallery.images[3]
    assert gallery.path(first).read_bytes() == other.path(first).read_bytes()  # deterministic


def test_own_gallery_folder_is_checked(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    with pytest.raises(GalleryError, match=r"no manifest\.json"):
        load_gallery(folder)
    (folder / MANIFEST).write_text("{not json")
    with pytest.raises(GalleryError, match="not a valid manifest"):
        load_gallery(folder)
    manifest = {
        "version": 1,
        "name": "mine",
        "images": [
            {
                "id": "sea",
                "file": "sea.png",
                "description": "a calm grey sea",
                "tags": [{"text": "grey palette", "category": "color"}],
            }
        ],
    }
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(GalleryError, match=r"missing: sea\.png"):
        load_gallery(folder)
    Image.new("RGB", (16, 16), (120, 120, 130)).save(folder / "sea.png")
    gallery = load_gallery(folder)
    context = gallery.context("sea")
    assert context.description == "a calm grey sea" and context.path == str(folder / "sea.png")
    with pytest.raises(GalleryError, match="no image 'lake'"):
        gallery.get("lake")


def test_shipped_prompts_are_many_and_style_diverse() -> None:
    items = shipped_prompts()
    assert len(items) >= 48
    assert len({item.id for item in items}) == len(items)
    assert len({item.prompt for item in items}) == len(items)
    looks = {t.text for item in items for t in item.tags if t.category.value in {"style", "medium"}}
    assert len(looks) >= 40
    covered = {t.category for item in items for t in item.tags}
    assert covered >= TASTE_CATEGORIES


def test_gallery_build_with_the_tiny_pipeline(
    tmp_path: Path, tiny_sd: StableDiffusionPipeline
) -> None:
    render = diffusers_renderer(tiny_sd, steps=2, size=64, guidance_scale=5.0)
    calls: list[str] = []

    def counted(prompt: str, seed: int) -> Image.Image:
        calls.append(prompt)
        return render(prompt, seed)

    items = shipped_prompts()[:3]
    gallery = build_gallery(counted, tmp_path / "built", items, name="tiny gallery")
    assert [image.id for image in gallery.images] == [item.id for item in items]
    for image, item in zip(gallery.images, items, strict=True):
        assert item.prompt in image.description
        assert image.tags == item.tags
        with Image.open(gallery.path(image)) as picture:
            assert picture.size == (64, 64)
    assert load_gallery(tmp_path / "built").name == "tiny gallery"

    build_gallery(counted, tmp_path / "built", shipped_prompts()[:4], name="tiny gallery")
    assert len(calls) == 4  # an interrupted or extended build renders only what is missing


def test_gallery_build_command_and_onboarding_with_it(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "sd-gallery"
    args = ["--model", "tiny", "--out", str(out), "--limit", "2", "--steps", "2", "--size", "64"]
    ok(run_cli(capsys, "gallery", "build", *args))
    gallery = load_gallery(out)
    assert len(gallery) == 2

    monkeypatch.setattr("sys.stdin", io.StringIO("I love the warm orange light\ndone\n"))
    text = " ".join(ok(run_cli(capsys, "onboard", "dora", "--gallery", str(out))).split())
    assert "Image 1 of 2" in text and "noise from the offline test model 'tiny'" in text
