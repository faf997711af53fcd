"""A mistyped user is refused with the nearest ids; `--create` (or a fresh install) creates one."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.cli_runner import Cli, ok, wide_cli


@pytest.fixture()
def cli(data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return wide_cli(capsys, monkeypatch)


def _users(cli: Cli) -> list[str]:
    return ok(cli("users", "list")).split()


def test_the_first_user_of_a_fresh_install_needs_no_flag(cli: Cli) -> None:
    ok(cli("prefs", "add", "alice", "like", "teal palette", "--category", "color"))
    assert _users(cli) == ["alice"]


def test_a_mistyped_user_is_refused_with_the_nearest_one(cli: Cli) -> None:
    ok(cli("prefs", "add", "alice", "like", "teal palette", "--category", "color"))
    ok(cli("prefs", "add", "bob", "like", "neon glow", "--category", "color", "--create"))
    refused = cli("prefs", "add", "alcie", "like", "film grain", "--category", "texture")
    assert refused.code == 1
    assert "no user 'alcie' — did you mean alice?" in refused.stderr
    assert "--create" in refused.stderr
    onboarding = cli("onboard", "alcie")
    assert onboarding.code == 1 and "did you mean alice?" in onboarding.stderr
    far = cli("prefs", "add", "zebediah", "like", "film grain", "--category", "texture")
    assert far.code == 1 and "(users: alice, bob)" in far.stderr
    assert _users(cli) == ["alice", "bob"]  # nobody created by a typo
    shown = json.loads(ok(cli("prefs", "show", "alice", "--json")))
    assert [a["text"] for a in shown] == ["teal palette"]


def test_create_makes_a_new_user(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    ok(cli("prefs", "add", "alice", "like", "teal palette", "--category", "color"))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    ok(cli("onboard", "carol", "--create"))
    assert _users(cli) == ["alice", "carol"]
