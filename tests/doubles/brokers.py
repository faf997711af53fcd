"""The machine's real Redis and RabbitMQ, isolated per test run: a Redis database number that is
empty (emptied again afterwards) and a RabbitMQ queue purged before and after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

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
