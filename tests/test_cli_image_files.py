"""Options that take images accept files, several after one flag, folders and globs, and say
what is wrong with a file in words ("not an image", "file not found", "too large: W×H")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from api.cli.image_files import expand_images
from api.wiring.services import Components
from tests.cli_runner import run_cli


def picture(path: Path, size: tuple[int, int] = (32, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (0, 128, 128)).save(path)
    return path


def test_folders_and_unexpanded_globs_become_their_image_files(tmp_path: Path) -> None:
    board = tmp_path / "board"
    b, a = picture(board / "b.png"), picture(board / "a.jpg")
    (board / "notes.txt").write_text("not a picture")
    (board / "sub").mkdir()
    loose = picture(tmp_path / "loose.png")
    typed = [board, tmp_path / "*.png", a, tmp_path / "none-*.png", tmp_path / "empty"]
    (tmp_path / "empty").mkdir()
    assert expand_images(typed) == [a, b, loose, tmp_path / "none-*.png", tmp_path / "empty"]


def test_score_scores_every_readable_file_and_lists_the_others(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("TASTEMAKER_MAX_INPUT_PIXELS", str(64 * 64))
    Components().accounts.ensure("alice")
    good, folder_image = picture(tmp_path / "good.png"), picture(tmp_path / "shots" / "s.png")
    huge = picture(tmp_path / "huge.png", (70, 70))
    (tmp_path / "notes.png").write_text("not a picture")
    typed = [good, tmp_path / "shots", huge, tmp_path / "notes.png", tmp_path / "gone.png"]
    args = ["score", "-u", "alice", "--model", "tiny", *map(str, typed)]
    result = run_cli(capsys, *args)
    assert result.code == 1  # some were not scored
    scored = [line.split("  ", 1)[1] for line in result.stdout.splitlines()]
    assert scored == [str(good), str(folder_image)]
    assert f"{huge}: too large: 70×70" in result.stderr
    assert f"{tmp_path / 'notes.png'}: not an image" in result.stderr
    assert f"{tmp_path / 'gone.png'}: file not found" in result.stderr
    assert "Error" not in result.stderr  # no exception class names

    as_json = run_cli(capsys, *args, "--json")
    rows = json.loads(as_json.stdout)
    assert [r["image"] for r in rows if "image" in r] == [str(good), str(folder_image)]
    assert len([r for r in rows if "not_scored" in r]) == 3


def test_score_with_nothing_readable_fails_in_one_line(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Components().accounts.ensure("alice")
    result = run_cli(capsys, "score", "-u", "alice", "--model", "tiny", str(tmp_path / "x.png"))
    assert result.code == 1
    assert (
        result.stderr.strip()
        == f"error: no image could be read: {tmp_path / 'x.png'}: file not found"
    )
