"""One trial of a worker paused past its lease (SIGSTOP, as a VM pause or a partition does),
shared by ``tests/test_jobs_lease.py`` and ``bench/lease_trials.py``.

The worker running a job is stopped at a step; the other worker's sweep gives the job away and
runs it again; then the paused one gets SIGCONT, either as soon as the job was given away (it
races the rescuer) or once the rescuer finished it. What the trial reports is what a late
worker could have stored: image files of the job rewritten after it was done, more than one
style token from one training job, a second completion logged.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from jobs.rows import DONE, FINISHED
from tests.doubles.celery_cluster import FINISHED_TWICE, Cluster, expected_files, wait_for
from tests.doubles.worker_process import ForkedWorker, WorkerProcess

LEASE_LOST = "lost its lease"  # what a worker logs when it notices (the fixed runner's words)
PAUSE_AT_STEP = 2


@dataclass(frozen=True)
class Trial:
    job_id: str
    status: str
    attempts: int
    rescued: bool  # another worker ran the job's last attempt
    rewritten: int  # image files of the job written again after it was done
    tokens: int  # style tokens the training job left (one expected)
    finished_twice: int  # the paused worker's "finished here after it was given away" lines
    noticed: bool  # the paused worker logged that it lost its lease
    paused_s: float

    @property
    def stored_twice(self) -> bool:
        return self.rewritten > 0 or self.tokens > 1


def _files(cluster: Cluster, job_id: str) -> dict[str, tuple[int, int]]:
    folder = cluster.data_dir / "generations" / job_id
    if not folder.is_dir():
        return {}
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}


def _wait_log(worker: WorkerProcess | ForkedWorker, offset: int, timeout_s: float) -> str:
    """The worker's log after ``offset`` once it says how its run of the job ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tail = worker.log()[offset:]
        if FINISHED_TWICE in tail or LEASE_LOST in tail:
            return tail
        time.sleep(0.1)
    return worker.log()[offset:]


def styles_of(http: httpx.Client) -> int:
    return len(http.get("/v1/styles").json())


def pause_past_lease(
    cluster: Cluster,
    http: httpx.Client,
    submit: Callable[[], str],
    *,
    resume_after_done: bool,
    settle_s: float = 30.0,
) -> Trial:
    """Submit a job, SIGSTOP its worker at step ``PAUSE_AT_STEP`` until another worker took
    the job (and, with ``resume_after_done``, finished it), then SIGCONT it and wait until it
    says how its run ended (or ``settle_s``)."""
    tokens_before = styles_of(http)
    job_id = submit()
    wait_for(http, job_id, "running", step=PAUSE_AT_STEP)
    first = cluster.row(job_id)
    paused = cluster.worker_of(first)
    offset = len(paused.log())
    os.kill(paused.pid, signal.SIGSTOP)
    began = time.monotonic()
    try:
        deadline = began + 120
        while time.monotonic() < deadline:
            row = cluster.row(job_id)
            taken = row.worker != first.worker or row.attempts != first.attempts
            if row.status in FINISHED or (taken and not resume_after_done):
                break
            time.sleep(0.05)
    finally:
        os.kill(paused.pid, signal.SIGCONT)
    paused_s = time.monotonic() - began
    wait_for(http, job_id, *FINISHED)
    done_files = _files(cluster, job_id)
    tail = _wait_log(paused, offset, settle_s)
    row = cluster.row(job_id)
    after = _files(cluster, job_id)
    if row.status == DONE and row.kind == "generation" and row.result is not None:
        assert sorted(after) == expected_files(row.result), (sorted(after), row.result)
    return Trial(
        job_id=job_id,
        status=row.status,
        attempts=row.attempts,
        rescued=row.worker != first.worker,
        rewritten=sum(1 for name, seen in after.items() if done_files.get(name) != seen),
        tokens=styles_of(http) - tokens_before,
        finished_twice=tail.count(FINISHED_TWICE),
        noticed=LEASE_LOST in tail,
        paused_s=paused_s,
    )


def like_one_image(http: httpx.Client) -> None:
    """Give the client's user one liked (generated) image, what style training learns from."""
    body = {"prompt": "a red barn", "steps": 2, "width": 64, "height": 64, "seed": 1}
    job_id = http.post("/v1/generations", json=body).json()["id"]
    wait_for(http, job_id, DONE)
    answer = http.post(f"/v1/generations/{job_id}/feedback", json={"liked": True})
    assert answer.status_code == 200, answer.text
