"""Fencing on the job rows themselves (real SQLite with a file blob store, real PostgreSQL with
blobs as rows, as the service wires them): a run's images and style token are written by the
transaction that marks its job done, guarded by its attempt, so a worker that lost its job
stores nothing; the worker notices the loss at its next step; a job cancelled before a restart
is reported cancelled after it. ``tests/test_jobs_lease.py`` does it with paused processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import torch
from safetensors.torch import save as save_safetensors
from sqlalchemy import event

from api.settings import Settings
from api.wiring.jobs import job_kinds
from api.wiring.services import open_blobs
from generation.request import GenerationRequest
from generation.settings import GenerationSettings
from jobs.lease import LeaseLost
from jobs.outputs import Finished, JobOutputs
from jobs.progress import LocalProgress
from jobs.repository import CANCEL_REASON, CANCELLED, DONE, FAILED, RUNNING, Job, JobRepository
from jobs.runner import LOST, JobExecutor, StepReporter
from preference_store.blobs import BlobStore
from preference_store.database import create_schema, make_engine
from preference_store.styles import StyleRecord, StyleStore

T = TypeVar("T")
PNG = b"\x89PNG\r\n\x1a\nfenced"
TOKEN = save_safetensors({"clip_l": torch.zeros(1, 32)})  # one vector of the tiny family


@dataclass
class Stores:
    jobs: JobRepository
    blobs: BlobStore
    styles: StyleStore


@pytest.fixture()
def stores(database_url: str, tmp_path: Any) -> Iterator[Stores]:
    engine = make_engine(database_url)
    create_schema(engine)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=None if database_url.startswith("sqlite") else database_url,
    )
    try:
        yield Stores(
            JobRepository(engine, job_kinds()), open_blobs(settings, engine), StyleStore(engine)
        )
    finally:
        engine.dispose()


def queued(stores: Stores, user: str = "ann") -> Job:
    request = GenerationRequest(
        prompt="fenced", settings=GenerationSettings(steps=4, width=64, height=64)
    )
    return stores.jobs.create(user, "generation", request)


def results(stores: Stores, job: Job, by: str) -> JobOutputs:
    outputs = JobOutputs(blobs=stores.blobs, styles=stores.styles)
    outputs.put(f"generations/{job.id}/image-0.png", PNG + by.encode())
    record = StyleRecord(user_id=job.user_id, model="tiny", family="clip_l:32", name=by)
    outputs.add(record, TOKEN)
    return outputs


def given_away(stores: Stores, job: Job) -> Job:
    """The job's worker went quiet: the sweep takes the job back and another worker claims it."""
    assert stores.jobs.requeue_orphans(lease_s=0.0, max_attempts=3) == [job.id]
    [second] = stores.jobs.claim("worker-2", ["generation"])
    return second


def test_a_late_attempt_stores_none_of_its_results_and_the_owner_stores_all(
    stores: Stores,
) -> None:
    job = queued(stores)
    [first] = stores.jobs.claim("worker-1", ["generation"])
    second = given_away(stores, job)
    assert stores.jobs.mark_done(second, {"by": 2}, results(stores, job, "second").write)
    assert not stores.jobs.mark_done(first, {"by": 1}, results(stores, job, "first").write)
    done = stores.jobs.get(job.id)
    assert done is not None and (done.status, done.result) == (DONE, {"by": 2})
    assert stores.blobs.get(f"generations/{job.id}/image-0.png") == PNG + b"second"
    assert [t.name for t in stores.styles.list_tokens("ann")] == ["second"]


def test_results_that_cannot_be_stored_leave_the_job_running_and_nothing_half_written(
    stores: Stores,
) -> None:
    job = queued(stores)
    [first] = stores.jobs.claim("worker-1", ["generation"])
    outputs = results(stores, job, "first")
    outputs.tokens.append(outputs.tokens[0])  # the same token id twice: the insert fails
    with pytest.raises(Exception):  # noqa: B017 - whichever IntegrityError the database raises
        stores.jobs.mark_done(first, {"by": 1}, outputs.write)
    running = stores.jobs.get(job.id)
    assert running is not None and running.status == "running" and running.result is None
    assert stores.styles.list_tokens("ann") == []


def sweep_with_a_pause(
    database_url: str, max_attempts: int, meanwhile: Callable[[], T]
) -> tuple[list[str], T]:
    """Another worker's sweep of the orphans, held after its read and before its write while
    ``meanwhile`` runs: what that sweep requeued, and what ``meanwhile`` returned."""
    late = JobRepository(make_engine(database_url), job_kinds())
    has_read, go_on = threading.Event(), threading.Event()

    @event.listens_for(late.engine, "before_cursor_execute")
    def hold_its_write(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):  # it has read the row: wait
            has_read.set()
            assert go_on.wait(10)

    swept: list[list[str]] = []
    sweeper = threading.Thread(target=lambda: swept.append(late.requeue_orphans(0.0, max_attempts)))
    try:
        sweeper.start()
        assert has_read.wait(10)
        happened = meanwhile()
        go_on.set()
        sweeper.join(10)
    finally:
        go_on.set()
        late.engine.dispose()
    assert len(swept) == 1, "the held sweep did not finish"
    return swept[0], happened


def test_a_sweep_that_read_a_job_before_another_sweep_requeued_it_leaves_the_rescue_alone(
    stores: Stores, database_url: str
) -> None:
    """Every worker sweeps. Two see the dead worker's job at once; one requeues it and a worker
    claims it (attempt 2) before the other one writes. That late write must change nothing:
    it once put the running attempt 2 back in the queue, so its live worker lost its lease and
    the job ran a third time, past ``max_attempts`` (the kill -9 test's flake)."""
    job = queued(stores)
    stores.jobs.claim("worker-1", ["generation"])  # worker-1 dies
    # the other sweep and worker-2 were quicker
    swept, second = sweep_with_a_pause(database_url, 2, lambda: given_away(stores, job))
    assert swept == []
    row = stores.jobs.get(job.id)
    assert row is not None and (row.status, row.worker, row.attempts) == (RUNNING, "worker-2", 2)
    assert stores.jobs.heartbeat(job.id, "worker-2", second.attempts) is False  # still its own


def test_a_cancel_that_lands_while_a_sweep_holds_a_dead_job_is_not_requeued(
    stores: Stores, database_url: str
) -> None:
    """The owner cancels a job whose worker died, after a sweep read it and before it wrote:
    the job must end cancelled, not go back to the queue for another worker to start."""
    job = queued(stores)
    stores.jobs.claim("worker-1", ["generation"])  # worker-1 dies
    swept, cancelled = sweep_with_a_pause(
        database_url, 3, lambda: stores.jobs.cancel("ann", job.id)
    )
    assert swept == [] and cancelled is not None  # not requeued
    assert stores.jobs.requeue_orphans(lease_s=0.0, max_attempts=3) == []  # the next sweep
    row = stores.jobs.get(job.id)
    assert row is not None and (row.status, row.error) == (CANCELLED, CANCEL_REASON)
    assert stores.jobs.claim("worker-2", ["generation"]) == []


def test_a_renewal_after_the_job_was_given_away_raises_lease_lost(stores: Stores) -> None:
    job = queued(stores)
    [first] = stores.jobs.claim("worker-1", ["generation"])
    assert stores.jobs.heartbeat(job.id, "worker-1", first.attempts) is False
    given_away(stores, job)
    with pytest.raises(LeaseLost):
        stores.jobs.heartbeat(job.id, "worker-1", first.attempts)


class Paused:
    """A handler whose worker 'pauses' after two steps: meanwhile the job is given away."""

    def __init__(self, stores: Stores, *, steps_after: int) -> None:
        self.stores = stores
        self.steps_after = steps_after
        self.reached = 0

    def __call__(self, job: Job, report: StepReporter) -> Finished:
        outputs = results(self.stores, job, "late")
        for step in (1, 2):
            report(step)
            self.reached = step
        given_away(self.stores, job)
        time.sleep(0.3)  # longer than two renewals: the run comes back from a pause
        for step in range(3, 3 + self.steps_after):
            report(step)
            self.reached = step
        return outputs.finished({"by": "late"})


@pytest.mark.parametrize("steps_after", [2, 0], ids=["a step after", "no step after"])
def test_a_worker_that_lost_its_job_stops_at_its_next_step_and_stores_nothing(
    stores: Stores, steps_after: int
) -> None:
    """With a step left it stops there (LeaseLost); without one, the fence refuses its end."""
    job = queued(stores)
    handler = Paused(stores, steps_after=steps_after)
    executor = JobExecutor(
        stores.jobs, {"generation": handler}, LocalProgress(), worker="worker-1", heartbeat_s=0.1
    )
    assert executor.run_next() is not None
    assert executor.finished[LOST] == 1 and handler.reached == 2
    row = stores.jobs.get(job.id)
    assert row is not None and (row.status, row.worker, row.result) == ("running", "worker-2", None)
    assert stores.blobs.get(f"generations/{job.id}/image-0.png") is None
    assert stores.styles.list_tokens("ann") == []


def test_a_job_cancelled_before_a_restart_is_cancelled_after_it(stores: Stores) -> None:
    cancelled, interrupted = queued(stores, "ann"), queued(stores, "bob")
    stores.jobs.claim("worker-1", ["generation"])
    stores.jobs.claim("worker-1", ["generation"])
    stores.jobs.cancel("ann", cancelled.id)  # its worker died before the next step
    stores.jobs.recover()
    after = stores.jobs.get(cancelled.id)
    assert after is not None and (after.status, after.error) == (CANCELLED, CANCEL_REASON)
    other = stores.jobs.get(interrupted.id)
    assert other is not None and other.status == FAILED and "restarted" in (other.error or "")
