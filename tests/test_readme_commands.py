"""Every `tastemaker ...` line in README.md and docs/cli.md is a command the CLI accepts, and the
everyday ones do what the docs say when run (the docs are read, not copied, so they cannot
drift)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer._click.exceptions import UsageError  # typer vendors its own click

from api.cli import app
from tests.cli_runner import run_cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "docs" / "cli.md", ROOT / "README.md")  # the reference first: it adds users


def readme_commands() -> list[str]:
    """The `tastemaker` lines of the docs' shell blocks, comments and redirections cut."""
    commands = []
    text = "\n".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("tastemaker "):
                commands.append(re.split(r"\s[<>|]\s", line)[0].strip())
    return commands


def _parse(argv: list[str]) -> None:
    """Parse ``argv`` with the real command tree (options, arguments, choices), running nothing."""
    command: Any = typer.main.get_command(app)
    while hasattr(command, "resolve_command"):  # a group: find the subcommand
        context = command.make_context("tastemaker", list(argv), resilient_parsing=True)
        wanted = argv[0] if argv else ""
        _name, command, argv = command.resolve_command(context, argv)
        if command is None:
            raise UsageError(f"no such command {wanted!r}")
    command.make_context(str(command.name), list(argv))


def test_the_readme_has_commands() -> None:
    assert len(readme_commands()) >= 15


@pytest.mark.parametrize("line", readme_commands())
def test_each_readme_command_parses(line: str) -> None:
    argv = shlex.split(line)[1:]
    try:
        _parse(argv)
    except UsageError as error:
        pytest.fail(f"documented line {line!r} is refused: {error.format_message()}")


def test_the_everyday_prefs_commands_run_as_written(
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    lines = [c for c in readme_commands() if c.startswith("tastemaker prefs ")]
    assert lines
    exported = None
    for line in lines:
        argv = shlex.split(line)[1:]
        if "ATTRIBUTE_ID" in argv:
            shown = json.loads(run_cli(capsys, "prefs", "show", "alice", "--json").stdout)
            argv[argv.index("ATTRIBUTE_ID")] = shown[0]["id"][:12]  # as the table prints it
        if argv[:2] == ["prefs", "import"]:
            assert exported is not None
            Path(argv[2]).write_text(exported)
        result = run_cli(capsys, *argv)
        assert result.code == 0, (line, result.stderr)
        if argv[:2] == ["prefs", "export"]:
            exported = result.stdout
