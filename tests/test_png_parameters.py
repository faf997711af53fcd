"""Generated PNGs carry A1111's `parameters` chunk beside tastemaker's own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from api.wiring.services import Components
from generation.png import read_png_metadata
from preference_store.models import AttributeDraft, Polarity
from tests.cli_runner import run_cli


def _a1111_fields(line: str) -> dict[str, str]:
    """A1111's `Key: value, Key: "quoted, value"` line, parsed as its own infotext reader does."""
    pattern = r'\s*(\w[\w \-/]*):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)'
    return {k: json.loads(v) if v.startswith('"') else v for k, v in re.findall(pattern, line)}


def test_png_has_a1111_parameters_and_keeps_tastemaker_chunks(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    components = Components()
    components.accounts.ensure("alice")
    components.store.add(
        "alice", [AttributeDraft(text="teal palette", category="color", polarity=Polarity.LIKE)]
    )
    args = ["generate", "-u", "alice", "--model", "tiny", "--out", str(tmp_path), "--json"]
    settings = ["--steps", "3", "--width", "72", "--height", "64", "--seed", "42"]
    negative = ["--negative-prompt", "blurry, text"]
    result = run_cli(capsys, *args, *settings, *negative, "a lighthouse at dusk")
    assert result.code == 0, result.stderr
    (path,) = json.loads(result.stdout)["files"]
    metadata = read_png_metadata(Path(path))

    prompt, negative_line, fields_line = metadata["parameters"].split("\n")
    assert prompt == "a lighthouse at dusk"
    assert negative_line == "Negative prompt: blurry, text"
    fields = _a1111_fields(fields_line)
    assert fields["Steps"] == "3" and fields["Seed"] == "42" and fields["Size"] == "72x64"
    assert fields["CFG scale"] == "5.0" and fields["Model"] == "tiny"
    assert fields["Sampler"]  # the pipeline's scheduler, by A1111's name when it has one
    assert fields["tastemaker liked"] == "teal palette"
    assert json.loads(metadata["tastemaker:plan"])["prompt"] == "a lighthouse at dusk"
    assert metadata["tastemaker:seed"] == "42"
