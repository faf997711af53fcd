"""``tastemaker style`` and the style flags of ``generate``, through the real CLI and tiny model."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from api.cli import app
from api.wiring.services import Components
from generation.png import read_png_metadata
from generation.style_formats import export_token, from_blob
from generation.style_training import TrainingConfig
from generation.tiny import build_tiny_sd
from preference_store.models import AttributeDraft, Category, ImageReaction, Polarity
from preference_store.styles import StyleRecord
from tests.cli_runner import run_cli

runner = CliRunner()
FAST = ["--steps", "2", "--width", "64", "--height", "64", "--seed", "5", "--aesthetic-steps", "0"]


@pytest.fixture()
def alice(data_dir: Path, tmp_path: Path) -> Path:
    components = Components()
    components.accounts.ensure("alice")
    components.store.add(
        "alice",
        [AttributeDraft(text="teal palette", category=Category.COLOR, polarity=Polarity.LIKE)],
        reason="test",
    )
    liked = []
    for i, colour in enumerate([(0, 128, 128), (20, 110, 140), (10, 90, 120)]):
        path = tmp_path / f"liked{i}.png"
        Image.new("RGB", (80, 64), colour).save(path)
        liked.append(ImageReaction(image_id=f"liked{i}", path=str(path), weight=1.0))
    components.store.set_images("alice", liked, [])
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_train_then_generate_uses_the_token_and_weight_zero_is_off(alice: Path) -> None:
    out = alice / "out"
    code, text = invoke(
        "generate",
        "--user",
        "alice",
        "--model",
        "tiny",
        "--out",
        str(out / "before"),
        *FAST,
        "a lighthouse",
    )
    assert code == 0, text and "style token:    -" in text
    code, text = invoke(
        "style", "train", "--user", "alice", "--model", "tiny", "--steps", "8", "--lr", "0.05"
    )
    assert code == 0, text
    assert "<alice-style>" in text and "8 steps" in text and "3 images" in text
    code, text = invoke("style", "list", "--user", "alice")
    assert "<alice-style>" in text and "positive" in text

    code, text = invoke(
        "generate",
        "--user",
        "alice",
        "--model",
        "tiny",
        "--out",
        str(out / "with"),
        *FAST,
        "a lighthouse",
    )
    assert code == 0, text
    assert "style token:    <alice-style>" in text and "profile v" in text
    (styled,) = (out / "with").glob("*.png")
    assert "<alice-style>" in read_png_metadata(styled)["tastemaker:style"]
    code, text = invoke(
        "generate",
        "--user",
        "alice",
        "--model",
        "tiny",
        "--out",
        str(out / "off"),
        *FAST,
        "--style-weight",
        "0",
        "a lighthouse",
    )
    assert code == 0, text
    (before,), (off,) = (out / "before").glob("*.png"), (out / "off").glob("*.png")
    np.testing.assert_array_equal(pixels(off), pixels(before))
    assert not np.array_equal(pixels(styled), pixels(before))


def test_moodboard_images_train_and_become_liked_images(alice: Path) -> None:
    board = []
    for i in range(2):
        path = alice / f"board{i}.jpg"
        Image.new("RGB", (70, 70), (200, 30 * i, 30)).save(path)
        board.append(path)
    args = [a for p in board for a in ("--images", str(p))]
    code, text = invoke(
        "style", "train", "--user", "alice", "--model", "tiny", "--steps", "3", *args
    )
    assert code == 0, text and "2 images" in text
    profile = Components().store.profile("alice")
    assert {r.image_id for r in profile.liked_images} >= {
        "moodboard:board0.jpg",
        "moodboard:board1.jpg",
    }


def test_export_loads_in_diffusers_and_imports_for_another_user(alice: Path) -> None:
    assert (
        invoke(
            "style", "train", "--user", "alice", "--model", "tiny", "--steps", "3", "--vectors", "2"
        )[0]
        == 0
    )
    styles = Components().styles
    (record,) = styles.list_tokens("alice")
    learned = from_blob(styles.get("alice", record.id)[1])["clip_l"]
    for fmt, name in (
        ("diffusers", "learned_embeds.safetensors"),
        ("a1111", "alice.pt"),
        ("a1111", "alice.safetensors"),
    ):
        path = alice / fmt / name
        code, text = invoke(
            "style", "export", "--user", "alice", "--format", fmt, "--out", str(path)
        )
        assert code == 0, text
        pipe = build_tiny_sd()
        pipe.load_textual_inversion(str(path), token="<t>")
        ids = pipe.tokenizer.convert_tokens_to_ids(["<t>", "<t>_1"])
        assert torch.equal(pipe.text_encoder.get_input_embeddings().weight[ids], learned)
    Components().accounts.ensure("bob")
    code, text = invoke(
        "style", "import", "--user", "bob", "--model", "tiny", str(alice / "a1111" / "alice.pt")
    )
    assert code == 0, text
    (copy,) = styles.list_tokens("bob")
    assert copy.name == "<alice-style>" and copy.source == "imported"
    # The same file again is a no-op that says so.
    code, text = invoke(
        "style", "import", "--user", "bob", "--model", "tiny", str(alice / "a1111" / "alice.pt")
    )
    assert code == 0 and f"already there: <alice-style> {copy.id}" in text, text
    assert [r.id for r in styles.list_tokens("bob")] == [copy.id]
    code, text = invoke("style", "delete", "--user", "bob", copy.id[:6])
    assert code == 0 and f"deleted {copy.id}" in text, text
    assert styles.list_tokens("bob") == []


def test_delete_takes_a_unique_id_prefix_and_an_ambiguous_one_is_one_line(
    alice: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from generation.style_formats import to_blob

    styles = Components().styles
    vector = {"clip_l": torch.zeros(1, 32)}
    for token_id in ("abc123", "abc456", "def789"):
        record = StyleRecord(
            id=token_id, user_id="alice", model="tiny", family="clip_l:32", name="<a>"
        )
        styles.add(record, to_blob(vector))
    done = run_cli(capsys, "style", "delete", "--user", "alice", "abc")
    assert done.code == 1 and len(done.stderr.strip().splitlines()) == 1, done
    assert "ambiguous" in done.stderr and "abc123, abc456" in done.stderr
    done = run_cli(capsys, "style", "delete", "--user", "alice", "zzz")
    assert done.code == 1 and "'zzz' does not exist" in done.stderr, done
    done = run_cli(capsys, "style", "delete", "--user", "alice", "abc4")
    assert done.code == 0 and done.stdout == "deleted abc456\n", done
    assert sorted(r.id for r in styles.list_tokens("alice")) == ["abc123", "def789"]


def test_a_cancelled_training_is_marked_and_never_the_default_unless_chosen(alice: Path) -> None:
    from generation.style_library import tokens_for, train_for_profile

    def used() -> str | None:  # the token a generation picks, from a fresh store
        token = tokens_for(Components().styles, "alice", "tiny", pipe).style
        return token.token_id if token else None

    pipe, done = build_tiny_sd(), []
    assert invoke("style", "train", "--user", "alice", "--model", "tiny", "--steps", "3")[0] == 0
    components = Components()
    (finished,) = components.styles.list_tokens("alice")
    stopped = train_for_profile(
        pipe,
        model="tiny",
        profile=components.store.profile("alice"),
        styles=components.styles,
        config=TrainingConfig(steps=6),
        progress=lambda step, _loss: done.append(step),
        should_stop=lambda: bool(done),  # as Ctrl-C during the first step
    ).record
    assert stopped is not None and stopped.cancelled and stopped.steps == 1

    code, text = invoke("style", "list", "--user", "alice")
    lines = {line.split()[0]: line for line in text.splitlines()}
    assert "cancelled at step 1" in lines[stopped.id] and "default" not in lines[stopped.id]
    assert "3 steps" in lines[finished.id] and lines[finished.id].endswith("default")
    assert used() == finished.id

    code, text = invoke("style", "use", "--user", "alice", stopped.id[:7])
    assert code == 0 and f"{stopped.id} (cancelled at step 1) is now the positive default" in text
    assert used() == stopped.id  # persisted: a new store reads the choice
    assert invoke("style", "list", "--user", "alice")[1].count("default") == 1

    # A newer finished training beats an earlier choice, as the newest finished token is used.
    assert invoke("style", "train", "--user", "alice", "--model", "tiny", "--steps", "2")[0] == 0
    newest = Components().styles.list_tokens("alice")[0]
    assert used() == newest.id and not newest.cancelled


def test_train_stopped_in_the_terminal_says_cancelled_and_how_to_use_it(
    alice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.cli.style import StopOnInterrupt

    asked: list[bool] = []  # Ctrl-C during the first step: the check before the second stops
    monkeypatch.setattr(
        StopOnInterrupt, "__call__", lambda _self: asked.append(True) or len(asked) > 1
    )
    code, text = invoke("style", "train", "--user", "alice", "--model", "tiny", "--steps", "5")
    (record,) = Components().styles.list_tokens("alice")
    assert code == 0 and f"{record.id}: cancelled at step 1," in text, text
    assert f"`tastemaker style use {record.id[:8]} --user alice`" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--steps", "0"], "steps must be between 1 and 10000"),
        (["--steps", "100000"], "steps must be between 1 and 10000"),
        (["--vectors", "9"], "vectors must be between"),
        (["--images", "{not_image}"], "notes.txt: not an image"),
        (["--images", "{missing}"], "gone.png: file not found"),
        (["--images", "{liked}", "{not_image}"], "notes.txt: not an image"),  # one flag, two
        (["--negative"], "got 0"),  # alice has no disliked images
    ],
)
def test_bad_training_input_is_one_line_and_stores_nothing(
    alice: Path, capsys: pytest.CaptureFixture[str], args, message
) -> None:
    (alice / "notes.txt").write_text("not an image")
    names = {"not_image": alice / "notes.txt", "missing": alice / "gone.png"}
    args = [a.format(liked=alice / "liked0.png", **names) for a in args]
    version = Components().store.profile("alice").version
    done = run_cli(capsys, "style", "train", "--user", "alice", "--model", "tiny", *args)
    code, text = done.code, done.stdout + done.stderr
    assert code == 1 and message in text, text
    assert len([line for line in text.splitlines() if line.strip()]) == 1
    assert Components().styles.list_tokens("alice") == []
    assert Components().store.profile("alice").version == version


def test_a_thousand_images_are_refused(alice: Path) -> None:
    args = [a for i in range(1000) for a in ("--images", str(alice / f"img{i}.png"))]
    code, text = invoke("style", "train", "--user", "alice", "--model", "tiny", *args)
    assert code == 1 and "got 1000" in text


def test_a_token_file_for_another_model_is_refused(alice: Path) -> None:
    path = alice / "sd15.safetensors"
    path.write_bytes(export_token({"clip_l": torch.zeros(1, 768)}, name="<x>", fmt="diffusers"))
    code, text = invoke("style", "import", "--user", "alice", "--model", "tiny", str(path))
    assert code == 1 and "768 wide" in text
    assert Components().styles.list_tokens("alice") == []


def test_ctrl_c_stops_training_cleanly_and_keeps_the_vectors_so_far(alice: Path) -> None:
    """A real SIGINT mid-training (sent from the progress callback at step 2)."""
    import os
    import signal

    from api.cli.style import StopOnInterrupt
    from generation.style_library import train_for_profile

    components = Components()
    profile = components.store.profile("alice")

    def progress(step: int, _loss: float) -> None:
        if step == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with StopOnInterrupt() as stop:
        trained = train_for_profile(
            build_tiny_sd(),
            model="tiny",
            profile=profile,
            styles=components.styles,
            progress=progress,
            should_stop=stop,
        )
    assert trained.result.cancelled and trained.result.steps == 2
    (record,) = components.styles.list_tokens("alice")
    assert record.id == trained.record.id and record.steps == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG of a few hundred bytes whose header says ``width`` × ``height`` (a decompression
    bomb: decoded, 30000² would take 2.7 GB); its data is a little compressed zero."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(4096))) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def test_a_decompression_bomb_is_one_line_naming_its_size_and_stores_nothing(
    alice: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = png_claiming(alice / "bomb.png", 30_000, 30_000)
    assert bomb.stat().st_size < 1_000
    version = Components().store.profile("alice").version
    done = run_cli(
        capsys, "style", "train", "--user", "alice", "--model", "tiny", "--images", str(bomb)
    )
    text = done.stdout + done.stderr
    assert done.code == 1 and "bomb.png: too large: 30000×30000" in text, text
    assert len([line for line in text.splitlines() if line.strip()]) == 1
    assert Components().store.profile("alice").version == version
    assert Components().styles.list_tokens("alice") == []


def test_images_past_the_configured_pixel_count_are_refused_before_decoding(
    alice: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASTEMAKER_MAX_INPUT_PIXELS", "5000")  # alice's liked images: 80×64
    wide = alice / "wide.png"
    Image.new("RGB", (200, 100), (1, 2, 3)).save(wide)
    for extra in (["--images", str(wide)], []):
        done = run_cli(capsys, "style", "train", "--user", "alice", "--model", "tiny", *extra)
        text = done.stdout + done.stderr
        size = "wide.png: too large: 200×100" if extra else "liked0.png: too large: 80×64"
        assert done.code == 1 and size in text and "at most 5,000 pixels" in text, text
    assert Components().styles.list_tokens("alice") == []
