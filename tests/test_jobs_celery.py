"""Jobs on Celery with real servers: the API in uvicorn, two ``tastemaker worker`` processes,
the machine's Redis (a fresh database number) and RabbitMQ, one SQLite file every process shares.

A job queued on the API runs on a worker process, its steps stream back through Redis pub/sub,
cancelling crosses processes, a redelivered message of a finished job runs nothing, and a worker
killed with SIGKILL mid-generation never leaves its job stuck in ``running``: the other worker
finishes it (or it fails with the reason), and it completes once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.jobs.celery_engine import QUEUE, celery_app, wake
from api.jobs.repository import DONE, FAILED, Job, JobRepository
from api.wiring.jobs import job_kinds
from generation.request import GenerationRequest
from generation.settings import GenerationSettings
from preference_store.database import make_engine
from tests.doubles.brokers import RABBITMQ, fresh_redis_db
from tests.doubles.uvicorn_server import UvicornServer
from tests.doubles.worker_process import WorkerProcess

PNG = b"\x89PNG\r\n\x1a\n"
KILL_TRIALS = 3


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with fresh_redis_db() as url:
        yield url


class Cluster:
    def __init__(self, data_dir: Path, **settings: str | int | float) -> None:
        self.data_dir = data_dir
        self.settings = {"job_lease_s": 2, "job_max_attempts": 2, "max_steps": 200, **settings}
        self.api = UvicornServer(data_dir, **self.settings)
        self.workers = [WorkerProcess(data_dir, f"w{n}", **self.settings) for n in range(2)]
        self.jobs: JobRepository | None = None

    def start(self, workers: int = 2) -> Cluster:
        self.api.start()  # creates the schema first
        for worker in self.workers[:workers]:
            worker.start()
        self.jobs = JobRepository(
            make_engine(f"sqlite:///{self.data_dir / 'tastemaker.db'}"), job_kinds()
        )
        return self

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.api.stop()

    def row(self, job_id: str) -> Job:
        assert self.jobs is not None
        job = self.jobs.get(job_id)
        assert job is not None
        return job


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("celery") / "data", broker_url=redis_url)
    try:
        yield running.start()
    finally:
        running.stop()


def user(server: UvicornServer, name: str) -> httpx.Client:
    with httpx.Client(base_url=server.url) as anonymous:
        token = anonymous.post("/v1/users", json={"id": name}).json()["token"]
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def submit(http: httpx.Client, prompt: str, steps: int) -> str:
    body = {"prompt": prompt, "steps": steps, "width": 64, "height": 64, "seed": 3}
    answer = http.post("/v1/generations", json=body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def wait_for(http: httpx.Client, job_id: str, *statuses: str, step: int = 1) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body: dict[str, Any] = http.get(f"/v1/generations/{job_id}").json()
        if body["status"] in statuses and (
            body["status"] != "running" or body["progress"]["step"] >= step
        ):
            return body
        time.sleep(0.05)
    raise TimeoutError(f"generation {job_id} never reached {statuses}")


def events(http: httpx.Client, job_id: str, *, first_only: bool = False) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []
    name = ""
    with http.stream("GET", f"/v1/generations/{job_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                seen.append((name, json.loads(line.removeprefix("data: "))))
                if first_only:
                    break
    return seen


def test_a_job_runs_on_a_worker_process_and_its_steps_stream_through_the_api(
    cluster: Cluster,
) -> None:
    with user(cluster.api, "ada") as ada:
        job_id = submit(ada, "a lighthouse at dusk", steps=12)
        stream = events(ada, job_id)
        assert stream[-1][0] == "done"
        steps = {data["step"] for name, data in stream if name == "progress"}
        assert len(steps - {0}) >= 2, stream  # live steps, relayed from another process
        done = stream[-1][1]
        assert ada.get(done["image_urls"][0]).content.startswith(PNG)
    row = cluster.row(job_id)
    assert row.worker is not None and int(row.worker.rsplit(":", 1)[1]) in {
        w.pid for w in cluster.workers
    }


def test_a_reconnecting_client_gets_the_current_state_first_and_cancel_crosses_processes(
    cluster: Cluster,
) -> None:
    with user(cluster.api, "bea") as bea:
        job_id = submit(bea, "a long one", steps=200)
        seen = wait_for(bea, job_id, "running", step=3)["progress"]["step"]
        [(name, first)] = events(bea, job_id, first_only=True)
        assert name == "progress" and first["status"] == "running" and first["step"] >= seen
        assert bea.delete(f"/v1/generations/{job_id}").status_code == 200
        ended = wait_for(bea, job_id, "cancelled", "done", "failed")
        assert ended["status"] == "cancelled"
    assert cluster.row(job_id).result is None


def test_a_redelivered_message_of_a_finished_job_runs_nothing(cluster: Cluster) -> None:
    with user(cluster.api, "cal") as cal:
        job_id = submit(cal, "only once", steps=2)
        wait_for(cal, job_id, "done")
    before = cluster.row(job_id)
    app = celery_app(str(cluster.settings["broker_url"]), visibility_timeout_s=3_600)
    for _ in range(2):
        wake(app, job_id)  # as a broker redelivers after a lost acknowledgement
    time.sleep(3)
    after = cluster.row(job_id)
    assert (after.status, after.attempts, after.finished_at, after.result) == (
        DONE,
        1,
        before.finished_at,
        before.result,
    )


def test_a_job_whose_wake_up_message_was_lost_still_runs(cluster: Cluster) -> None:
    """As after a broker restart without persistence: the row is queued, no message exists."""
    assert cluster.jobs is not None
    user(cluster.api, "fay").close()
    request = GenerationRequest(
        prompt="no message", settings=GenerationSettings(steps=2, width=64, height=64)
    )
    job = cluster.jobs.create("fay", "generation", request)  # straight into the table
    deadline = time.monotonic() + 60
    while cluster.row(job.id).status == "queued" and time.monotonic() < deadline:
        time.sleep(0.2)
    while cluster.row(job.id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cluster.row(job.id).status == DONE


@pytest.mark.slow
def test_kill_9_a_worker_mid_generation_never_loses_or_doubles_the_job(cluster: Cluster) -> None:
    outcomes = []
    with user(cluster.api, "dan") as dan:
        for trial in range(KILL_TRIALS):
            job_id = submit(dan, f"killed {trial}", steps=60)
            wait_for(dan, job_id, "running", step=2)
            owner = cluster.row(job_id).worker
            assert owner is not None
            victim = next(w for w in cluster.workers if owner.endswith(f":{w.pid}"))
            victim.kill()
            ended = wait_for(dan, job_id, "done", "failed", "cancelled")
            row = cluster.row(job_id)
            assert row.status in (DONE, FAILED), row
            if row.status == DONE:
                assert row.attempts == 2 and row.worker != owner
                assert dan.get(ended["image_urls"][0]).content.startswith(PNG)
            else:
                assert row.error and "stopped" in row.error
            outcomes.append(row.status)
            victim.start()
    assert outcomes == [DONE] * KILL_TRIALS  # two attempts allowed, one death each: all finish


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
