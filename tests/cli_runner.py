"""Run `tastemaker` commands in this process (fast) or in a new one (for persistence)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from api.cli import main


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """The real entry point, argv and all, with output captured."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


Cli = Callable[..., CliResult]
"""``run_cli`` with its ``capsys`` bound: ``cli("prefs", "show", "alice")``."""


def wide_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``run_cli`` in a terminal 200 columns wide, so that tables print ids and texts whole."""
    monkeypatch.setenv("COLUMNS", "200")
    return partial(run_cli, capsys)


def ok(result: CliResult) -> str:
    """The output of a command that must succeed (its stderr is the failure message)."""
    assert result.code == 0, result.stderr
    return result.stdout


def run_cli_process(data_dir: Path, *args: str, stdin: str | None = None) -> CliResult:
    """The installed `tastemaker` command in a fresh process."""
    executable = Path(sys.executable).parent / "tastemaker"
    env = {**os.environ, "TASTEMAKER_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    done = subprocess.run(
        [str(executable), *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=180,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def onboard(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, user: str, lines: list[str]
) -> str:
    """`tastemaker onboard USER --new --create` typed into, line by line; its output."""
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    return ok(run_cli(capsys, "onboard", user, "--new", "--create"))


def learned(capsys: pytest.CaptureFixture[str], user: str) -> set[tuple[str, str]]:
    """The user's profile as (text, polarity) pairs, read through `prefs show --json`."""
    shown = json.loads(ok(run_cli(capsys, "prefs", "show", user, "--json")))
    return {(a["text"], a["polarity"]) for a in shown}
