"""The test servers themselves: a free port that another test's server takes between being
chosen and being bound must not cost a 120 s wait and a failed test (it once failed CI)."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from tests.doubles import uvicorn_server
from tests.doubles.forker import Forker
from tests.doubles.uvicorn_server import ForkedUvicornServer


def test_a_server_whose_free_port_was_taken_starts_on_another(
    service_forker: Forker, shared_cache_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = int(squatter.getsockname()[1])
        offered = iter([taken])
        any_port = uvicorn_server.free_port
        monkeypatch.setattr(uvicorn_server, "free_port", lambda: next(offered, 0) or any_port())
        server = ForkedUvicornServer(
            service_forker, cache_dir=shared_cache_dir, data_dir=tmp_path / "data"
        )
        try:
            server.start(wait_ready=False, timeout_s=60)
            assert server.port != taken
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as answer:
                assert answer.status == 200
            assert "address already in use" in server.log_path.read_text()  # it was tried
        finally:
            server.stop()
