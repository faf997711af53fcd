"""The queue's rules, which every engine keeps (issue 10.1): a per-person cap on queued+running
jobs, fair order between people, cancelling, and a cost bound in pixel-steps.

First on the job rows themselves (real SQLite), then over real HTTP against the service with its
in-process worker and the tiny pipeline.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from api.wiring.jobs import job_kinds
from generation.request import GenerationRequest
from generation.settings import GenerationSettings
from jobs.repository import (
    CANCELLED,
    DONE,
    QUEUED,
    RUNNING,
    AdmissionRules,
    JobRepository,
    QueueFull,
    UserJobLimit,
)
from preference_store.database import create_schema, make_engine
from tests.doubles.forker import Forker
from tests.doubles.uvicorn_server import ForkedUvicornServer, UvicornServer

RULES = AdmissionRules(per_user=3, capacity=6, max_pixel_steps=10**9)


def small(prompt: str) -> GenerationRequest:
    return GenerationRequest(
        prompt=prompt, settings=GenerationSettings(steps=2, width=64, height=64)
    )


POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


@pytest.fixture(params=["sqlite", "postgresql"])
def jobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobRepository]:
    """The same rules on SQLite and on the machine's PostgreSQL (a fresh database, dropped)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
        create_schema(engine)
        yield JobRepository(engine, job_kinds())
        return
    name = f"tm_jobs_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(f"{POSTGRES}/{name}")
    try:
        create_schema(engine)
        yield JobRepository(engine, job_kinds())
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def claim_one(jobs: JobRepository) -> str:
    [job] = jobs.claim("worker-1", ["generation"])
    jobs.mark_done(job, {"images": 1})
    return job.request.prompt  # type: ignore[attr-defined, no-any-return]


def test_a_person_over_the_cap_is_refused_and_another_is_served_first(
    jobs: JobRepository,
) -> None:
    for n in range(3):
        jobs.create("ann", "generation", small(f"ann {n}"), RULES)
    with pytest.raises(UserJobLimit, match="at most 3 per person"):
        jobs.create("ann", "generation", small("ann 3"), RULES)
    jobs.create("bob", "generation", small("bob 0"), RULES)
    jobs.create("bob", "generation", small("bob 1"), RULES)
    # Ann's first job was queued first; then the two people take turns.
    order = [claim_one(jobs) for _ in range(5)]
    assert order == ["ann 0", "bob 0", "ann 1", "bob 1", "ann 2"]


def test_a_person_with_a_running_job_waits_behind_one_without(jobs: JobRepository) -> None:
    jobs.create("ann", "generation", small("ann 0"), RULES)
    jobs.create("ann", "generation", small("ann 1"), RULES)
    [running] = jobs.claim("worker-1", ["generation"])
    jobs.create("bob", "generation", small("bob 0"), RULES)
    [second] = jobs.claim("worker-2", ["generation"])  # a second worker picks the next job
    assert (running.request.prompt, second.request.prompt) == ("ann 0", "bob 0")  # type: ignore[attr-defined]


def test_the_whole_queue_has_a_capacity(jobs: JobRepository) -> None:
    rules = AdmissionRules(per_user=10, capacity=2, max_pixel_steps=10**9)
    jobs.create("ann", "generation", small("a"), rules)
    jobs.create("bob", "generation", small("b"), rules)
    with pytest.raises(QueueFull) as full:
        jobs.create("cid", "generation", small("c"), rules)
    assert full.value.retry_after_s >= 1


def test_cancel_ends_a_queued_job_and_flags_a_running_one(jobs: JobRepository) -> None:
    first = jobs.create("ann", "generation", small("first"), RULES)
    second = jobs.create("ann", "generation", small("second"), RULES)
    [running] = jobs.claim("worker-1", ["generation"])
    assert running.id == first.id
    assert jobs.cancel("bob", second.id) is None  # not Bob's: looks like nothing
    queued = jobs.cancel("ann", second.id)
    assert queued is not None and queued.status == CANCELLED and queued.error
    flagged = jobs.cancel("ann", first.id)
    assert flagged is not None and flagged.status == RUNNING and flagged.cancel_requested
    assert jobs.heartbeat(first.id, "worker-1", running.attempts) is True
    assert jobs.claim("worker-1", ["generation"]) == []  # the cancelled job is never claimed


def test_a_job_ends_once_even_when_two_workers_believe_they_run_it(jobs: JobRepository) -> None:
    job = jobs.create("ann", "generation", small("contested"), RULES)
    [first] = jobs.claim("worker-1", ["generation"])
    assert jobs.requeue_orphans(lease_s=0.0, max_attempts=2) == [job.id]  # worker-1 went quiet
    [second] = jobs.claim("worker-2", ["generation"])
    assert second.attempts == 2
    assert jobs.mark_done(second, {"by": 2}) is True
    assert jobs.mark_done(first, {"by": 1}) is False  # the first attempt cannot complete it
    done = jobs.get(job.id)
    assert done is not None and done.status == DONE and done.result == {"by": 2}


def test_a_job_whose_workers_keep_dying_fails_with_the_reason(jobs: JobRepository) -> None:
    job = jobs.create("ann", "generation", small("cursed"), RULES)
    for _ in range(2):
        jobs.claim("worker-1", ["generation"])
        jobs.requeue_orphans(lease_s=0.0, max_attempts=2)
    failed = jobs.get(job.id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and "stopped 2 times" in failed.error


def test_compatible_jobs_can_be_claimed_together(jobs: JobRepository) -> None:
    jobs.create("ann", "generation", small("a"), RULES)
    jobs.create("bob", "generation", small("b"), RULES)
    other = GenerationRequest(prompt="c", settings=GenerationSettings(steps=3, width=64, height=64))
    jobs.create("cid", "generation", other, RULES)
    batch = jobs.claim("worker-1", ["generation"], limit=4)
    assert [j.request.prompt for j in batch] == ["a", "b"]  # type: ignore[attr-defined]
    assert jobs.count(QUEUED) == 1


# -- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, service_forker: Forker, shared_cache_dir: str
) -> Iterator[UvicornServer]:
    server = ForkedUvicornServer(
        service_forker,
        cache_dir=shared_cache_dir,
        data_dir=tmp_path_factory.mktemp("rules") / "data",
        max_jobs_per_user=3,
        max_steps=200,
        max_job_pixel_steps=64 * 64 * 200 * 2,
    )
    server.start()
    yield server
    server.stop()


def user(server: UvicornServer, name: str) -> httpx.Client:
    with httpx.Client(base_url=server.url) as anonymous:
        token = anonymous.post("/v1/users", json={"id": name}).json()["token"]
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def wait_for(http: httpx.Client, job_id: str, *statuses: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body: dict[str, Any] = http.get(f"/v1/generations/{job_id}").json()
        if body["status"] in statuses and (body["status"] != "running" or body["progress"]["step"]):
            return body
        time.sleep(0.05)
    raise TimeoutError(f"generation {job_id} never reached {statuses}")


def post(http: httpx.Client, prompt: str, steps: int = 2) -> httpx.Response:
    body = {"prompt": prompt, "steps": steps, "width": 64, "height": 64, "seed": 1}
    return http.post("/v1/generations", json=body)


@pytest.mark.slow
def test_over_http_cap_fairness_and_cancel(service: UvicornServer) -> None:
    with user(service, "ann") as ann, user(service, "bob") as bob:
        long = post(ann, "a long one", steps=200).json()["id"]
        wait_for(ann, long, "running")
        later = [post(ann, f"ann later {n}").json()["id"] for n in range(2)]
        refused = post(ann, "one too many")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert "at most 3 per person" in refused.json()["detail"]
        accepted = post(bob, "bob's turn")
        assert accepted.status_code == 202, accepted.text
        bobs = accepted.json()["id"]

        # Cancel a queued job: it ends at once.
        gone = ann.delete(f"/v1/generations/{later[1]}")
        assert gone.status_code == 200 and gone.json()["status"] == "cancelled"
        assert bob.delete(f"/v1/generations/{later[0]}").status_code == 404  # not Bob's

        # Cancel the running job: it stops at its next step, long before its 200 steps.
        assert ann.delete(f"/v1/generations/{long}").status_code == 200
        stopped = wait_for(ann, long, "cancelled", "done", "failed")
        assert stopped["status"] == "cancelled" and stopped["progress"]["step"] == 0
        assert stopped["image_urls"] == []

        # Bob's job, queued after Ann's, runs before Ann's remaining one.
        bob_done = wait_for(bob, bobs, "done")
        ann_done = wait_for(ann, later[0], "done")
        assert bob_done["finished_at"] < ann_done["finished_at"]
        again = ann.delete(f"/v1/generations/{later[0]}")
        assert again.status_code == 409 and "already done" in again.json()["detail"]

        events = ann.get(f"/v1/generations/{long}/events").text
        assert "event: error" in events and '"status": "cancelled"' in events


def test_over_http_a_job_over_the_cost_bound_is_refused_with_the_bound(
    service: UvicornServer,
) -> None:
    with user(service, "cid") as cid:
        body = {"prompt": "too big", "steps": 200, "width": 128, "height": 128}
        refused = cid.post("/v1/generations", json=body)
        assert refused.status_code == 422
        detail = refused.json()["detail"]
        assert "3,276,800 pixel-steps" in detail and "limit here is 1,638,400" in detail
        assert "TASTEMAKER_MAX_JOB_PIXEL_STEPS raises it" in detail
        plain = cid.post(
            "/v1/generations",
            json={"prompt": "doubled", "steps": 200, "width": 64, "height": 64,
                  "include_plain": True, "num_images": 2},
        )  # fmt: skip
        assert plain.status_code == 422 and "3,276,800" in plain.json()["detail"]
        palp = cid.post(  # PALP's training is most of the cost: the message names it
            "/v1/generations",
            json={"prompt": "trained", "steps": 10, "width": 64, "height": 64, "mode": "palp",
                  "palp_steps": 500},
        )  # fmt: skip
        detail = palp.json()["detail"]
        assert palp.status_code == 422 and "PALP training 6,144,000" in detail, detail
        assert "at most 130 PALP steps fit" in detail  # (1,638,400 / 4,096 − 10) / 3


def test_queued_jobs_waiting_while_nothing_runs_are_found_for_a_new_wake_up(
    jobs: JobRepository,
) -> None:
    first = jobs.create("ann", "generation", small("lost message"), RULES)
    assert jobs.forgotten(older_than_s=3_600) == []  # young: its message is still on its way
    assert jobs.forgotten(older_than_s=0.0) == [first.id]
    jobs.create("bob", "generation", small("running"), RULES)
    jobs.claim("worker-1", ["generation"])
    assert jobs.forgotten(older_than_s=0.0) == []  # a worker is busy: the queue just waits


def test_concurrent_submits_and_claims_keep_the_cap_and_claim_each_job_once(
    jobs: JobRepository,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # On PostgreSQL each thread is its own "API node" (no shared in-process lock): only the
    # database keeps the cap. SQLite is one process by design, so there they share one.
    postgres = jobs.engine.dialect.name == "postgresql"
    nodes = [JobRepository(jobs.engine, jobs.kinds) if postgres else jobs for _ in range(12)]

    def submit(n: int) -> bool:
        try:
            nodes[n].create("ann", "generation", small(f"ann {n}"), RULES)
        except UserJobLimit:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(submit, range(12))) == 3  # real concurrent connections, one cap
    for n in range(3):
        jobs.create(f"user{n}", "generation", small(f"other {n}"), RULES)
    with ThreadPoolExecutor(8) as pool:
        claimed = list(pool.map(lambda w: jobs.claim(f"w{w}", ["generation"]), range(10)))
    ids = [job.id for batch in claimed for job in batch]
    assert len(ids) == len(set(ids)) == 6
