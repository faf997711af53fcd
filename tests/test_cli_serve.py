"""`tastemaker serve` on a port that is taken says so at once, before it opens anything."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli.service import _cannot_listen
from tests.cli_runner import run_cli


@pytest.fixture()
def taken_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def test_a_busy_port_is_refused_before_anything_loads(
    data_dir: Path, capsys: pytest.CaptureFixture[str], taken_port: int
) -> None:
    result = run_cli(capsys, "serve", "--port", str(taken_port))
    assert result.code == 1
    assert f"cannot listen on 127.0.0.1:{taken_port}" in result.stdout
    assert "in use" in result.stdout and "--port" in result.stdout
    assert not data_dir.exists()  # no database opened, no model loaded


def test_a_free_port_passes_the_check(taken_port: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])
    assert _cannot_listen("127.0.0.1", free) is None
    assert _cannot_listen("127.0.0.1", taken_port) is not None
    assert "unknown host" in str(_cannot_listen("no-such-host.invalid", free))
