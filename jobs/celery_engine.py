"""Jobs on Celery: API nodes queue, ``tastemaker worker`` processes (one per accelerator) run.

A Celery message is a wake-up, not the job: it names the job it was sent for, but the worker
claims the fairest queued job from the job rows (which stay the truth), so the per-user rules
hold whatever order the broker delivers in. Every move to ``queued`` sends one message; a
message that finds nothing to claim is simply acknowledged, so a duplicate or a redelivery of a
finished job runs nothing twice.

Reliability comes from the broker and the lease together: tasks are ``acks_late`` with
``reject_on_worker_lost`` and a prefetch of 1, so a message held by a worker that dies goes back
to the queue (RabbitMQ at once; Redis after the visibility timeout, set longer than the longest
job). Independently, each worker renews its running job's lease in the job row; every worker
checks for jobs whose lease ran out, puts them back in the queue with a fresh message, or fails
them with the reason after the attempt limit. A job never stays ``running`` without a worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from celery import Celery

from jobs.progress import JobEvent, ProgressBus
from jobs.queue import JobFront
from jobs.repository import AdmissionRules, Job, JobRepository, JobRequest
from jobs.runner import Handler, JobExecutor

log = logging.getLogger("tastemaker.jobs")

TASK = "tastemaker.run_job"
QUEUE = "tastemaker.jobs"


def celery_app(broker_url: str, *, visibility_timeout_s: int) -> Celery:
    """The Celery application both sides use (no result backend: results are in job rows)."""
    app = Celery("tastemaker", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": visibility_timeout_s},
    )
    return app


def wake(app: Celery, job_id: str) -> None:
    app.send_task(TASK, args=[job_id], queue=QUEUE)


class CeleryJobQueue(JobFront):
    """The API side: job rows plus a wake-up message per queued job. Runs no models."""

    load_error: str | None = None

    def __init__(
        self,
        repository: JobRepository,
        progress: ProgressBus,
        rules: AdmissionRules,
        app: Celery,
    ) -> None:
        super().__init__(repository, progress, rules)
        self.app = app
        self.sent = 0

    @property
    def ready(self) -> bool:
        return True

    def start(self) -> None:
        pass

    def stop(self, timeout_s: float = 10.0) -> None:
        self.progress.close()

    def submit(self, user_id: str, kind: str, request: JobRequest) -> Job:
        job = self.admit(user_id, kind, request)
        try:
            wake(self.app, job.id)
        except Exception:  # the job is durable: a worker's sweep wakes up for it later
            log.warning("could not send the wake-up for job %s", job.id, exc_info=True)
        else:
            self.sent += 1
        return job

    def stats(self) -> dict[str, int]:
        return {
            "waiting": self.repository.count("queued"),
            "running": self.repository.count("running"),
        }


class OrphanSweeper:
    """Every ``lease_s / 2``: jobs whose worker went silent go back to the queue (with a new
    wake-up message) or fail with the reason; queued jobs that wait while nothing runs get a new
    wake-up (their message was lost)."""

    def __init__(
        self,
        repository: JobRepository,
        progress: ProgressBus,
        app: Celery,
        *,
        lease_s: float,
        max_attempts: int,
    ) -> None:
        self.repository = repository
        self.progress = progress
        self.app = app
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self._stop = threading.Event()

    def sweep(self) -> list[str]:
        requeued = self.repository.requeue_orphans(self.lease_s, self.max_attempts)
        for job_id in requeued:
            job = self.repository.get(job_id)
            if job is not None:
                self.progress.publish(JobEvent(job.id, job.status, 0, job.total_steps))
            wake(self.app, job_id)
        for job_id in self.repository.forgotten(older_than_s=self.lease_s):
            wake(self.app, job_id)  # an extra wake-up is harmless; a missing one strands a job
        return requeued

    def start(self) -> None:
        threading.Thread(target=self._loop, name="job-sweeper", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(max(0.5, self.lease_s / 2)):
            try:
                self.sweep()
            except Exception:
                log.warning("sweeping orphaned jobs failed", exc_info=True)


def run_worker(
    app: Celery,
    repository: JobRepository,
    handlers: Mapping[str, Handler],
    progress: ProgressBus,
    *,
    lease_s: float,
    max_attempts: int,
    name: str | None = None,
    max_batch: int = 1,
    gather_s: float = 0.05,
) -> None:
    """Serve jobs until stopped, in this process (the models live here): one job, or up to
    ``max_batch`` compatible ones denoised together, at a time."""
    executor = JobExecutor(
        repository,
        handlers,
        progress,
        worker=name,
        heartbeat_s=max(0.2, lease_s / 5),
        max_batch=max_batch,
        gather_s=gather_s,
    )
    sweeper = OrphanSweeper(repository, progress, app, lease_s=lease_s, max_attempts=max_attempts)

    @app.task(  # not lazy: registered before the worker lists its tasks
        name=TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True, lazy=False
    )
    def run_job(job_id: str) -> dict[str, Any]:
        ran = executor.run_next()
        if ran is None:
            return {"woken_for": job_id, "ran": None}
        return {"woken_for": job_id, "ran": ran.id}

    sweeper.sweep()  # jobs left by a worker that died before this one started
    sweeper.start()
    try:
        worker = app.Worker(
            pool="solo",
            concurrency=1,
            hostname=f"tastemaker@{executor.worker}",
            queues=[QUEUE],
            loglevel="INFO",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        worker.start()
    finally:
        sweeper.stop()
