"""Help text reads like help, not a template (issue 27, item 17): a required argument is
``USER`` in the usage line (typer 0.29 writes ``{user}``), and a flag has no ``<bool>`` type."""

from __future__ import annotations

import re

import pytest

from tests.cli_runner import run_cli

COMMANDS = [
    ["--help"],
    ["prefs", "show", "--help"],
    ["prefs", "add", "--help"],
    ["onboard", "--help"],
    ["pick", "--help"],
    ["score", "--help"],
    ["generate", "--help"],
    ["users", "create", "--help"],
    ["style", "train", "--help"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_help_has_no_placeholders(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    result = run_cli(capsys, *argv)
    assert result.code == 0, result.stderr
    assert "<bool>" not in result.stdout
    usage = next(line for line in result.stdout.splitlines() if "Usage:" in line)
    assert not re.search(r"[{}]", usage), usage


def test_required_and_optional_arguments_in_the_usage_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    usage = run_cli(capsys, "prefs", "add", "--help").stdout
    assert "prefs add [OPTIONS] USER POLARITY TEXT" in usage
    assert "score [OPTIONS] IMAGES..." in run_cli(capsys, "score", "--help").stdout
    assert "<int" in run_cli(capsys, "generate", "--help").stdout  # options with values keep theirs
