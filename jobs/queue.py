"""The job queue as the API sees it: one protocol, two engines behind it.

- ``LocalJobQueue`` (``jobs/runner.py``): the embedded default, a worker thread in the API
  process (``make run``).
- ``CeleryJobQueue`` (``jobs/celery_engine.py``): jobs run by ``tastemaker worker`` processes;
  Celery (Redis or RabbitMQ) carries the wake-ups, the job rows stay the truth.

Both share ``JobFront``: the rules (cost bound, per-user cap, queue capacity, fair order in the
claim) live here and in ``JobRepository``, so every engine keeps them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from jobs.progress import JobEvent, ProgressBus
from jobs.repository import (
    CANCELLED,
    AdmissionRules,
    Job,
    JobRepository,
    JobRequest,
    JobTooLarge,
)


class JobQueue(Protocol):
    """What routes use; both engines implement it."""

    repository: JobRepository
    progress: ProgressBus
    load_error: str | None

    @property
    def ready(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self, timeout_s: float = 10.0) -> None: ...

    def submit(self, user_id: str, kind: str, request: JobRequest) -> Job:
        """Queue a job; ``JobTooLarge``, ``UserJobLimit`` or ``QueueFull`` when refused."""
        ...

    def cancel(self, user_id: str, job_id: str) -> Job | None: ...

    def get(self, user_id: str, job_id: str) -> Job | None: ...

    def step(self, job_id: str) -> int | None: ...

    def follow(self, job_id: str) -> AsyncIterator[JobEvent | None]: ...

    def stats(self) -> dict[str, int]: ...


class JobFront:
    """The engine-independent half of a queue: admission, cancel, reads, progress."""

    def __init__(self, repository: JobRepository, progress: ProgressBus, rules: AdmissionRules):
        self.repository = repository
        self.progress = progress
        self.rules = rules

    def admit(self, user_id: str, kind: str, request: JobRequest) -> Job:
        cost = request.pixel_steps()
        if cost > self.rules.max_pixel_steps:
            raise JobTooLarge(request.too_large(self.rules.max_pixel_steps))
        job = self.repository.create(user_id, kind, request, self.rules)
        self.progress.publish(JobEvent(job.id, job.status, 0, job.total_steps))
        return job

    def cancel(self, user_id: str, job_id: str) -> Job | None:
        job = self.repository.cancel(user_id, job_id)
        if job is not None and job.status == CANCELLED:
            self.progress.publish(JobEvent(job.id, CANCELLED, 0, job.total_steps))
        return job

    def get(self, user_id: str, job_id: str) -> Job | None:
        return self.repository.get_for(user_id, job_id)

    def step(self, job_id: str) -> int | None:
        event = self.progress.current(job_id)
        return event.step if event is not None and event.status == "running" else None

    def follow(self, job_id: str) -> AsyncIterator[JobEvent | None]:
        return self.progress.follow(job_id)
