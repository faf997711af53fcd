"""Relational backend benchmark: ``GET /v1/preferences`` on PostgreSQL against SQLite.

The same server (uvicorn on 127.0.0.1, 1 torch thread, as in ``bench/api.py``) runs once on the
embedded SQLite file and once on a fresh PostgreSQL database (``tastemaker_bench_<random>`` on
127.0.0.1:5432, user postgres, dropped afterwards); 50 concurrent keep-alive clients read one
user's 50 attributes from a separate process. Rounds alternate the two backends, so machine
noise falls on both; each backend's best round is compared (budget: p99 <= 100 ms for both).

    python bench/db.py                  # 2 rounds
    python bench/db.py --rounds 3 --requests-per-client 100
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import secrets
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)  # bench/generation.py must not shadow the generation package
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"


def bench_api() -> ModuleType:
    """bench/api.py's HTTP client and statistics, loaded by path."""
    spec = importlib.util.spec_from_file_location("bench_api", ROOT / "bench/api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def serve(port: int, data_dir: Path, database_url: str | None) -> None:
    import uvicorn

    from api.app import create_app
    from api.settings import Settings

    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        auto_migrate=True,
        torch_threads=1,
        rate_limit_burst=1_000_000,
        rate_limit_per_minute=1_000_000,
    )
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="error")


def measure(
    api: ModuleType, data_dir: Path, database_url: str | None, clients: int, each: int
) -> tuple[float, list[float]]:
    """Requests/s and latencies of ``GET /v1/preferences`` for a user with 50 attributes."""
    args = ["--data", str(data_dir)] + (["--database-url", database_url] if database_url else [])
    process, url = api.launch(Path(__file__).resolve(), args)
    try:
        token = api.call(f"{url}/v1/users", "POST", {"id": f"bench{secrets.token_hex(3)}"})
        token = token["token"]
        for colour in api.COLOURS:
            for thing, category in zip(api.THINGS, api.CATEGORIES, strict=True):
                attribute = {"text": f"{colour} {thing}", "category": category}
                attribute["polarity"] = "like" if len(colour) % 2 else "dislike"
                api.call(f"{url}/v1/preferences", "POST", attribute, token)
        asyncio.run(api.hammer(url, "/v1/preferences", token, clients, 10))  # warm up
        wall, latencies = asyncio.run(api.hammer(url, "/v1/preferences", token, clients, each))
        return len(latencies) / wall, latencies
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "serve"])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests-per-client", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.port, args.data, args.database_url)
        return

    import psycopg

    api = bench_api()
    name = f"tastemaker_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    postgres_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    print(f"bench/db.py on {os.cpu_count()} CPUs, server with 1 torch thread")
    print(f"GET /v1/preferences, 50 attributes, {args.clients} concurrent clients:")
    best: dict[str, tuple[float, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(args.rounds):
                for backend, url in (("SQLite", None), ("PostgreSQL", postgres_url)):
                    data_dir = Path(tmp) / f"{backend}-{round_}"
                    rate, latencies = measure(
                        api, data_dir, url, args.clients, args.requests_per_client
                    )
                    p99 = api.percentile([v * 1000 for v in latencies], 0.99)
                    print(f"  {backend:<10} round {round_ + 1}: {rate:.0f} requests/s; "
                          f"{api.describe(latencies)}")  # fmt: skip
                    if backend not in best or p99 < best[backend][1]:
                        best[backend] = (rate, p99)
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    (sqlite_rate, sqlite_p99), (pg_rate, pg_p99) = best["SQLite"], best["PostgreSQL"]
    print(
        f"best rounds: SQLite p99 {sqlite_p99:.1f} ms, {sqlite_rate:.0f} req/s; PostgreSQL p99 "
        f"{pg_p99:.1f} ms, {pg_rate:.0f} req/s"
    )
    print(
        f"PostgreSQL / SQLite: p99 x{pg_p99 / sqlite_p99:.2f}, throughput x"
        f"{pg_rate / sqlite_rate:.2f}"
    )


if __name__ == "__main__":
    main()
