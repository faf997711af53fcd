"""The service scaled out, for tests: the API in uvicorn, ``tastemaker worker`` processes and a
broker, over one data directory (one SQLite file every process shares), plus the client calls
those tests make (a user, a generation, its status, its server-sent events).

The API and the workers are forked by a :class:`Forker` when one is given (a start takes about a
second, so a test can kill and replace many), else each starts from a fresh interpreter
(``UvicornServer``, ``WorkerProcess``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from api.wiring.jobs import job_kinds
from jobs.generation import image_key
from jobs.repository import Job, JobRepository
from preference_store.database import make_engine
from tests.doubles.forker import Forker
from tests.doubles.uvicorn_server import ForkedUvicornServer, UvicornServer
from tests.doubles.worker_process import ForkedWorker, WorkerProcess

PNG = b"\x89PNG\r\n\x1a\n"
# The shortest lease that held on this loaded 2-core machine. A worker renews it every lease / 5
# (0.4 s), so 1.6 s of silence gives its job away; a dead worker's job moves on after 2-3 s (the
# lease plus up to half a lease to the next sweep). At 1 s (0.8 s of silence) a live worker once
# lost its job to another one (a lease renewal late under load): correct, but not what tests
# that count attempts may assume.
LEASE_S = 2.0
FINISHED_TWICE = "finished here after it was given to another worker"  # the worker's warning


class Cluster:
    def __init__(
        self,
        data_dir: Path,
        *,
        forker: Forker | None = None,
        workers: int = 2,
        **settings: str | int | float,
    ) -> None:
        self.data_dir = data_dir
        self.forker = forker
        self.settings = {
            "job_lease_s": LEASE_S,
            "job_max_attempts": 2,
            "max_steps": 200,
            **settings,
        }
        self.api = (
            UvicornServer(data_dir, **self.settings)
            if forker is None
            else ForkedUvicornServer(forker, data_dir, **self.settings)
        )
        self.workers: list[WorkerProcess | ForkedWorker] = []
        for _ in range(workers):
            self.add_worker()
        self.jobs: JobRepository | None = None

    def add_worker(self) -> WorkerProcess | ForkedWorker:
        """One more worker (not started)."""
        name = f"w{len(self.workers)}"
        worker: WorkerProcess | ForkedWorker
        if self.forker is not None:
            worker = ForkedWorker(self.forker, self.data_dir, name, **self.settings)
        else:
            worker = WorkerProcess(self.data_dir, name, **self.settings)
        self.workers.append(worker)
        return worker

    def start(self, workers: int | None = None) -> Cluster:
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
        if self.jobs is not None:
            self.jobs.engine.dispose()

    def row(self, job_id: str) -> Job:
        assert self.jobs is not None
        job = self.jobs.get(job_id)
        assert job is not None
        return job

    def worker_of(self, job: Job) -> WorkerProcess | ForkedWorker:
        """The worker process a running job's row names."""
        assert job.worker is not None
        owner = job.worker
        return next(w for w in self.workers if w.alive and owner.endswith(f":{w.pid}"))

    def image_files(self, job_id: str) -> list[str]:
        """The files a job's images left in the data directory (none hidden, nothing partial)."""
        folder = self.data_dir / Path(image_key(job_id, "image", 0)).parent  # the file blob store
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    def finished_twice(self) -> int:
        """How many times a worker completed a job that another worker was given meanwhile."""
        return sum(w.log().count(FINISHED_TWICE) for w in self.workers)


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


def expected_files(result: dict[str, Any]) -> list[str]:
    """The PNG names a finished generation's result says it made."""
    images = [f"image-{n}.png" for n in range(int(result.get("images", 0)))]
    plain = [f"plain-{n}.png" for n in range(int(result.get("plain_images", 0)))]
    return sorted(images + plain)
