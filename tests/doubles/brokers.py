"""The machine's real Redis and RabbitMQ, isolated per test run: a Redis database number that is
empty (emptied again afterwards) and a RabbitMQ queue purged before and after. ``RedisServer``:
a private Redis a test may crash and restart.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.doubles.chroma_server import free_port
from tests.doubles.logged_process import LoggedProcess

REDIS = "redis://127.0.0.1:6379"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


@contextmanager
def fresh_redis_db() -> Iterator[str]:
    """The URL of an empty Redis database (1–15), flushed when done."""
    for number in range(15, 0, -1):
        client = redis.Redis.from_url(f"{REDIS}/{number}")
        claim = f"tastemaker-test-claim:{number}"
        if client.dbsize() == 0 and client.set(claim, "1", nx=True, ex=3_600):
            try:
                yield f"{REDIS}/{number}"
            finally:
                client.flushdb()
                client.close()
            return
        client.close()
    raise RuntimeError("no empty Redis database number (1-15) is free on 127.0.0.1:6379")


class RedisServer(LoggedProcess):
    """A private ``redis-server`` on a free loopback port, for tests that crash and restart it
    (never the machine's shared one on 6379, which other tests use). Without persistence: a
    restart loses every key, message and pub/sub subscription, the hardest case for the jobs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        super().__init__(directory / f"redis-{self.port}.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 30.0) -> RedisServer:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.directory),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        with redis.Redis(port=self.port, socket_connect_timeout=1) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited; see {self.log_path}")
                try:
                    if client.ping():
                        return self
                except redis.ConnectionError:
                    time.sleep(0.02)
        raise TimeoutError(f"redis-server was not up in {timeout_s} s; see {self.log_path}")

    def restart(self) -> None:
        """A crash (SIGKILL) and a start on the same port, as a supervisor would."""
        self.kill()
        self.start()
