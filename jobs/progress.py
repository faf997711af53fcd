"""Progress events of running jobs, from whichever process runs them to whichever API node
streams them.

Workers ``publish`` a ``JobEvent`` per step and per change of status. ``current`` is the latest
event of a job (what a client that reconnects gets first); ``follow`` yields it and then every
new one, with ``None`` at least once a second when nothing happened (so the caller can check
its client and the job row). In-process: a dict guarded by a lock (``LocalProgress``). Across
processes: Redis, a key per job holding the latest event plus pub/sub for the stream
(``RedisProgress``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Protocol

import redis
import redis.asyncio as aioredis

log = logging.getLogger("tastemaker.jobs")


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    status: str
    step: int
    total: int

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> JobEvent:
        data = json.loads(raw)
        return cls(str(data["job_id"]), str(data["status"]), int(data["step"]), int(data["total"]))


class ProgressBus(Protocol):
    def publish(self, event: JobEvent) -> None: ...

    def current(self, job_id: str) -> JobEvent | None: ...

    def follow(self, job_id: str) -> AsyncIterator[JobEvent | None]: ...

    def close(self) -> None: ...


class LocalProgress:
    """One process: the worker thread writes, the event loop polls every 0.1 s."""

    def __init__(self) -> None:
        self._latest: dict[str, JobEvent] = {}
        self._lock = threading.Lock()

    def publish(self, event: JobEvent) -> None:
        with self._lock:
            self._latest[event.job_id] = event
            if len(self._latest) > 10_000:  # finished jobs' events are in their rows too
                for key in list(self._latest)[:5_000]:
                    del self._latest[key]

    def current(self, job_id: str) -> JobEvent | None:
        with self._lock:
            return self._latest.get(job_id)

    async def follow(self, job_id: str) -> AsyncIterator[JobEvent | None]:
        last: JobEvent | None = None
        quiet = 0
        while True:
            event = self.current(job_id)
            if event is not None and event != last:
                last, quiet = event, 0
                yield event
            elif quiet >= 10:
                quiet = 0
                yield None
            await asyncio.sleep(0.1)
            quiet += 1

    def close(self) -> None:
        pass


class RedisProgress:
    """Many processes: ``SET`` the latest event (kept an hour) and ``PUBLISH`` it.

    Best effort: events are a live view of the job rows, so while Redis is unreachable (a
    restart) they are dropped, never raised into the job that sent them or the request that
    asked. After a failure, Redis is left alone for ``pause_s`` (each try may retry for
    seconds), so a job's steps are not slowed by an outage.
    """

    def __init__(
        self, url: str, *, prefix: str = "tastemaker", keep_s: int = 3_600, pause_s: float = 1.0
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._keep_s = keep_s
        self._client = redis.Redis.from_url(url)
        self._pause_s = pause_s
        self._down_until = 0.0

    def _reachable(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, error: redis.RedisError) -> None:
        if self._reachable():
            log.warning("progress events are dropped while Redis is unreachable: %s", error)
        self._down_until = time.monotonic() + self._pause_s

    def _key(self, job_id: str) -> str:
        return f"{self._prefix}:progress:{job_id}"

    def _channel(self, job_id: str) -> str:
        return f"{self._prefix}:events:{job_id}"

    def publish(self, event: JobEvent) -> None:
        if not self._reachable():
            return
        raw = event.to_json()
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.set(self._key(event.job_id), raw, ex=self._keep_s)
                pipe.publish(self._channel(event.job_id), raw)
                pipe.execute()
        except redis.RedisError as error:
            self._failed(error)

    def current(self, job_id: str) -> JobEvent | None:
        if not self._reachable():
            return None
        try:
            raw: bytes | None = self._client.get(self._key(job_id))  # type: ignore[assignment]
        except redis.RedisError as error:
            self._failed(error)
            return None
        return JobEvent.from_json(raw) if raw else None

    async def follow(self, job_id: str) -> AsyncIterator[JobEvent | None]:
        client = aioredis.Redis.from_url(self._url)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(self._channel(job_id))  # before reading: nothing slips by
            raw = await client.get(self._key(job_id))
            if raw:
                yield JobEvent.from_json(raw)
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                yield JobEvent.from_json(message["data"]) if message else None
        finally:
            await pubsub.aclose()
            await client.aclose()

    def close(self) -> None:
        self._client.close()
