"""`aesthetic-import` / `aesthetic-export` refuse what would break later, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from api.cli import app
from api.wiring.services import Components
from generation.tiny import TINY_PROJECTION

runner = CliRunner()
TINY = ["-u", "alice", "--model", "tiny"]


@pytest.fixture()
def components(data_dir: Path) -> Components:
    components = Components()
    components.accounts.ensure("alice")
    components.store.add("alice", [], reason="empty")
    return components


def _stored(components: Components) -> list[float] | None:
    version = components.store.profile("alice").version
    return components.store.get_aesthetic_embedding("alice", version, "tiny-clip")


def test_an_embedding_of_the_wrong_width_is_refused(components: Components, tmp_path: Path) -> None:
    wide = tmp_path / "sd15.pt"
    torch.save(torch.randn(1, 768), wide)
    result = runner.invoke(app, ["aesthetic-import", *TINY, str(wide)])
    assert result.exit_code == 1
    assert f"768-d embedding; this CLIP model needs {TINY_PROJECTION}" in result.output
    assert _stored(components) is None
    right = tmp_path / "tiny.pt"
    torch.save(torch.randn(1, TINY_PROJECTION), right)
    assert runner.invoke(app, ["aesthetic-import", *TINY, str(right)]).exit_code == 0
    assert _stored(components) is not None


@pytest.mark.parametrize("content", ["junk", "pickle"])
def test_a_corrupt_file_is_one_line_without_torch_advice(
    components: Components, tmp_path: Path, content: str
) -> None:
    bad = tmp_path / "bad.pt"
    if content == "junk":
        bad.write_bytes(b"\x00junk" * 10)
    else:
        torch.save({"not": "a tensor"}, bad)
    result = runner.invoke(app, ["aesthetic-import", *TINY, str(bad)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "not an aesthetic embedding" in lines[0] or "does not hold a [1, D]" in lines[0]
    assert "weights_only" not in result.output and "trust" not in result.output


def test_export_takes_out_like_generate(components: Components, tmp_path: Path) -> None:
    version = components.store.profile("alice").version
    vector = [1.0] + [0.0] * (TINY_PROJECTION - 1)
    components.store.put_aesthetic_embedding("alice", version, "tiny-clip", vector)
    target = tmp_path / "alice.pt"
    result = runner.invoke(app, ["aesthetic-export", *TINY, "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert torch.load(target, weights_only=True).shape == (1, TINY_PROJECTION)
    neither = runner.invoke(app, ["aesthetic-export", *TINY])
    assert neither.exit_code != 0 and "--out" in neither.output
