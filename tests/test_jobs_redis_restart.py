"""Redis restarted in the middle of a run, twenty times: every generation still ends done, once.

The API and two ``tastemaker worker`` processes use a private ``redis-server`` (broker and
progress) that the test crashes (SIGKILL) and starts again on the same port while one job is
mid-generation and others wait. It runs without persistence, as a cache-style Redis often does
and the hardest case: the restart loses every wake-up message, every message a worker held,
every progress key and subscription, so only the job rows (the source of truth) can bring the
jobs to an end. (With persistence the messages survive; a duplicate wake-up runs nothing, see
``test_a_redelivered_message_of_a_finished_job_runs_nothing``.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from jobs.repository import DONE
from tests.doubles.brokers import RedisServer
from tests.doubles.celery_cluster import Cluster, events, expected_files, submit, user, wait_for
from tests.doubles.forker import Forker

RESTART_TRIALS = 20
RESTART_BUDGET_S = 60.0  # wall time the trials may take; all 20 run unless it is exceeded
RESTART_MIN_TRIALS = 5  # and at least this many even on a slow machine
WAITING = ["ida", "jon", "kim"]  # one job each, queued before the restart
STEPS = 12


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisServer,
    service_forker: Forker,
    shared_cache_dir: str,
) -> Iterator[Cluster]:
    running = Cluster(
        tmp_path_factory.mktemp("restart") / "data",
        cache_dir=shared_cache_dir,
        forker=service_forker,
        broker_url=redis_server.url,
    )
    try:
        yield running.start()
    finally:
        running.stop()


@pytest.mark.slow
def test_redis_restarted_mid_run_every_job_still_ends_done_once(
    cluster: Cluster, redis_server: RedisServer
) -> None:
    """Per trial: three jobs queued, Redis crashes and restarts while the first is running;
    a job queued after the restart streams its live steps over server-sent events; all four
    end done, each on its first attempt (none ran twice) with its PNGs written once."""
    clients = [user(cluster.api, name) for name in [*WAITING, "lou"]]
    *waiting, streaming = clients
    trials = 0
    began = time.monotonic()
    try:
        while trials < RESTART_TRIALS and time.monotonic() - began < RESTART_BUDGET_S:
            queued = [submit(c, f"restart {trials}", steps=STEPS) for c in waiting]
            wait_for(waiting[0], queued[0], "running", step=2)
            redis_server.restart()

            fresh = submit(streaming, f"after restart {trials}", steps=STEPS)
            stream = events(streaming, fresh)
            assert stream[-1][0] == "done", stream
            steps = {data["step"] for name, data in stream if name == "progress"}
            assert len(steps - {0}) >= 2, stream  # live steps, through the restarted Redis

            for client, job_id in zip([*waiting, streaming], [*queued, fresh], strict=True):
                ended = wait_for(client, job_id, "done", "failed", "cancelled")
                row = cluster.row(job_id)
                assert (row.status, row.attempts) == (DONE, 1), (ended, row)
                assert row.result is not None
                assert cluster.image_files(job_id) == expected_files(row.result) != []
            trials += 1
        elapsed = time.monotonic() - began
    finally:
        for client in clients:
            client.close()
    print(f"\nRedis restarts: {trials} of {RESTART_TRIALS} in {elapsed:.1f} s")
    assert trials == RESTART_TRIALS or trials >= RESTART_MIN_TRIALS, elapsed
    assert cluster.finished_twice() == 0
