"""A worker paused past its lease (SIGSTOP, as a VM pause or a network partition does) with real
``tastemaker worker`` processes: when it comes back, the job was given to the other worker, and
it stores nothing: no image rewritten, no second style token. It notices at its next step that
the lease is gone and stops there, before running the job to its end.

A few trials per kind here (each pauses a worker for a lease and a rescue);
``bench/lease_trials.py`` runs twenty of each and prints the figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import httpx
import pytest

from jobs.repository import DONE
from tests.doubles.brokers import fresh_redis_db
from tests.doubles.celery_cluster import Cluster, submit, user
from tests.doubles.forker import Forker
from tests.doubles.paused_worker import Trial, like_one_image, pause_past_lease

pytestmark = pytest.mark.slow  # one cluster of real processes for the module

GENERATION_STEPS = 40
STYLE_STEPS = 60
RESUME_AFTER_DONE = [True, False, True]  # when the paused worker gets SIGCONT, per trial


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, service_forker: Forker, shared_cache_dir: str
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("lease")
    with fresh_redis_db() as redis_url:
        running = Cluster(
            root / "data", cache_dir=shared_cache_dir, forker=service_forker, broker_url=redis_url
        )
        try:
            yield running.start()
        finally:
            running.stop()


@pytest.fixture(scope="module")
def http(cluster: Cluster) -> Iterator[httpx.Client]:
    with user(cluster.api, "pia") as client:
        yield client


def check(trial: Trial, tokens: int, after_done: bool) -> None:
    """Done on its second attempt: by the other worker, or (when the paused one came back while
    the job was queued again) maybe by the paused one, which then claimed it afresh. Never a
    third: ``job_max_attempts`` is 2 (the third attempt once seen under load was two sweeps
    racing for the orphan, fenced since: ``tests/test_jobs_fence.py``)."""
    assert trial.status == DONE and trial.attempts == 2, trial
    assert trial.rescued or not after_done, trial
    assert trial.rewritten == 0 and trial.tokens == tokens, trial  # the late worker stored nothing
    assert trial.noticed and trial.finished_twice == 0, trial  # it stopped at its next step


def test_a_generation_worker_paused_past_its_lease_stores_nothing_when_it_comes_back(
    cluster: Cluster, http: httpx.Client
) -> None:
    for n, after_done in enumerate(RESUME_AFTER_DONE):
        trial = pause_past_lease(
            cluster,
            http,
            partial(submit, http, f"paused {n}", steps=GENERATION_STEPS),
            resume_after_done=after_done,
        )
        check(trial, tokens=0, after_done=after_done)


def test_a_style_training_worker_paused_past_its_lease_stores_no_second_token(
    cluster: Cluster, http: httpx.Client
) -> None:
    like_one_image(http)

    def train() -> str:
        answer = http.post("/v1/styles", json={"steps": STYLE_STEPS, "lr": 0.01})
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    for after_done in RESUME_AFTER_DONE:
        trial = pause_past_lease(cluster, http, train, resume_after_done=after_done)
        check(trial, tokens=1, after_done=after_done)
