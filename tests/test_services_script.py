"""scripts/ensure-services.sh, which `make test` runs before pytest: with the servers up it
changes nothing and succeeds; a service it does not know is a clear error."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import psycopg

SCRIPT = Path(__file__).parents[1] / "scripts" / "ensure-services.sh"


def test_with_the_servers_up_it_succeeds_and_they_answer() -> None:
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stderr
    dsn = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"
    with psycopg.connect(dsn) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
    with socket.create_connection(("127.0.0.1", 6379), timeout=5) as redis:
        redis.sendall(b"PING\r\n")
        assert redis.recv(64) == b"+PONG\r\n"


def test_an_unknown_service_is_refused_by_name() -> None:
    done = subprocess.run(["bash", str(SCRIPT), "mongodb"], capture_output=True, text=True)

    assert done.returncode == 2
    assert "unknown service 'mongodb'" in done.stderr
