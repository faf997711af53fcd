"""RabbitMQ as the Celery broker (Redis then carries only progress events): the API in uvicorn
and one ``tastemaker worker`` started from a fresh interpreter, as an operator starts it.

Its own file so the parallel test run can put it beside the Redis cluster's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.celery_engine import QUEUE, celery_app
from tests.doubles.brokers import RABBITMQ, fresh_redis_db
from tests.doubles.celery_cluster import PNG, Cluster, submit, user, wait_for


@pytest.fixture()
def redis_url() -> Iterator[str]:
    with fresh_redis_db() as url:
        yield url


@pytest.mark.slow
def test_rabbitmq_as_the_broker(tmp_path: Path, redis_url: str) -> None:
    running = Cluster(tmp_path / "data", broker_url=RABBITMQ, redis_url=redis_url)
    try:
        running.start(workers=1)
        with user(running.api, "eve") as eve:
            job_id = submit(eve, "over amqp", steps=3)
            done = wait_for(eve, job_id, "done", "failed")
            assert done["status"] == "done", done
            assert eve.get(done["image_urls"][0]).content.startswith(PNG)
    finally:
        running.stop()
        with celery_app(RABBITMQ, visibility_timeout_s=60).connection_for_write() as connection:
            channel = connection.default_channel
            channel.queue_delete(QUEUE)  # leave the shared RabbitMQ as it was
            channel.exchange_delete(QUEUE)
