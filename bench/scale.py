"""Scale-out benchmark: real uvicorn, real ``tastemaker worker`` processes, the machine's Redis.

1. Tiny-model generations per second with 1 vs 2 worker processes (one torch thread each), the
   same batch of jobs queued on the API first, measured until the last one is done.
2. Enqueue latency at the API (``POST /v1/generations``, 202) with 50 concurrent clients (one
   user each): p50 / p99, Celery mode (Redis broker) beside the embedded in-process queue.

Ratios are measured side by side in one run; on a shared 2-core machine the absolute figures
swing, the ratio less so.

    python bench/scale.py [--part all|workers|enqueue] [--jobs 24] [--steps 8] [--clients 50]
                          [--database postgresql|sqlite]   # repeatable; default both
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402

from tests.doubles.brokers import fresh_redis_db  # noqa: E402
from tests.doubles.cluster import fresh_postgres_database  # noqa: E402
from tests.doubles.uvicorn_server import UvicornServer  # noqa: E402
from tests.doubles.worker_process import WorkerProcess  # noqa: E402

LIMITS = {
    "job_queue_size": 1_000,
    "max_jobs_per_user": 1_000,
    "rate_limit_per_minute": 1_000_000,
    "rate_limit_burst": 1_000_000,
}


def new_users(url: str, count: int) -> list[str]:
    with httpx.Client(base_url=url, timeout=60) as http:
        return [http.post("/v1/users", json={}).json()["token"] for _ in range(count)]


def body(n: int, steps: int) -> dict[str, object]:
    return {"prompt": f"job {n}", "steps": steps, "width": 64, "height": 64, "seed": n,
            "aesthetic_steps": 0}  # fmt: skip


@contextmanager
def database(kind: str) -> Iterator[dict[str, str | bool]]:
    """The settings of a job database: the data dir's SQLite file, or a fresh PostgreSQL one."""
    if kind == "sqlite":
        yield {}
        return
    with fresh_postgres_database() as url:
        yield {"database_url": url, "auto_migrate": True}


def throughput(workers: int, jobs: int, steps: int, kind: str) -> float:
    """Generations per second with ``workers`` worker processes over a ``kind`` database."""
    with fresh_redis_db() as redis_url, tempfile.TemporaryDirectory() as tmp, database(kind) as db:
        data = Path(tmp) / "data"
        settings = {"broker_url": redis_url, **LIMITS, **db}
        api = UvicornServer(data, **settings).start()
        started = [WorkerProcess(data, f"w{n}", **settings).start() for n in range(workers)]
        try:
            [token] = new_users(api.url, 1)
            with httpx.Client(
                base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as http:
                clock = time.perf_counter()
                ids = [http.post("/v1/generations", json=body(n, steps)).json()["id"] for n in
                       range(jobs)]  # fmt: skip
                # One status read at a time, in queue order: polling every pending job would
                # keep the API busy on a core the workers need (it did: 120 reads/s).
                for job_id in ids:
                    while http.get(f"/v1/generations/{job_id}").json()["status"] not in (
                        "done", "failed", "cancelled"
                    ):  # fmt: skip
                        time.sleep(0.1)
                return jobs / (time.perf_counter() - clock)
        finally:
            for worker in started:
                worker.stop()
            api.stop()


async def enqueue(url: str, tokens: list[str], each: int) -> list[float]:
    latencies: list[float] = []
    warm: list[str] = []

    async def client(token: str, offset: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
            # Connect and authenticate first (the token check is not the enqueue path).
            assert (await http.get("/v1/me")).status_code == 200
            warm.append(token)
            await ready.wait()
            for n in range(each):
                started = time.perf_counter()
                answer = await http.post("/v1/generations", json=body(offset + n, 2))
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 202, answer.text

    ready = asyncio.Event()
    running = [asyncio.create_task(client(t, i * each)) for i, t in enumerate(tokens)]
    while len(warm) < len(tokens) and not any(task.done() for task in running):
        await asyncio.sleep(0.05)
    ready.set()
    await asyncio.gather(*running)
    return latencies


def enqueue_latency(clients: int, each: int, *, celery: bool) -> list[float]:
    with fresh_redis_db() as redis_url, tempfile.TemporaryDirectory() as tmp:
        settings: dict[str, str | int | float] = dict(LIMITS)
        if celery:
            settings["broker_url"] = redis_url  # no worker: only the API's side is measured
        api = UvicornServer(Path(tmp) / "data", **settings).start()
        try:
            tokens = new_users(api.url, clients)
            return asyncio.run(enqueue(api.url, tokens, each))
        finally:
            api.stop()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--each", type=int, default=6)
    parser.add_argument("--part", choices=("all", "workers", "enqueue"), default="all")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        action="append",
        help="job database(s) for the workers part (default: both, PostgreSQL first)",
    )
    args = parser.parse_args()
    args.database = args.database or ["postgresql", "sqlite"]

    if args.part in ("all", "workers"):
        for kind in args.database:
            one = throughput(1, args.jobs, args.steps, kind)
            two = throughput(2, args.jobs, args.steps, kind)
            print(
                f"tiny generations ({args.jobs} jobs, {args.steps} steps, 64x64), Redis broker, "
                f"job rows in {kind}:"
            )
            print(f"  1 worker process : {one:.2f} generations/s")
            print(f"  2 worker processes: {two:.2f} generations/s  (ratio {two / one:.2f}x)")
    if args.part == "workers":
        return
    for label, celery in (("Celery (Redis)", True), ("embedded", False)):
        latencies = enqueue_latency(args.clients, args.each, celery=celery)
        print(
            f"POST /v1/generations, {args.clients} concurrent clients, {len(latencies)} jobs, "
            f"{label}: p50 {percentile(latencies, 0.5) * 1e3:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    main()
