"""HTTP service benchmark: uvicorn on 127.0.0.1, measured from a separate client process.

1. 50 concurrent keep-alive clients on ``GET /v1/preferences`` for a user with 50 attributes:
   requests/s, p50 and p99 latency (budget here: >= 300 requests/s, p99 <= 100 ms).
2. ``/healthz`` latency while a generation runs on a pipeline with SD 1.5's shapes (random
   weights, built from the real configs in ``bench/generation.py``), against the same server
   idle (budget: p99 <= 25 ms during generation).

Every loop is bounded (a fixed number of requests, or until the generation ends with a time
cap). The client is a minimal asyncio HTTP/1.1 client so the load generator costs little CPU
next to the server on this 2-core machine.

    python bench/api.py                 # both parts
    python bench/api.py --part list     # only part 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)  # bench/generation.py must not shadow the generation package
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

COLOURS = ["teal", "gold", "crimson", "ochre", "indigo", "sage", "coral", "amber", "slate", "ivory"]
THINGS = ["palette", "highlights", "shadows", "glow", "accents"]
CATEGORIES = ["color", "lighting", "lighting", "lighting", "color"]


# -- the server process ------------------------------------------------------------------------


def serve(port: int, data_dir: Path, sd15: bool) -> None:
    """Run the app on 127.0.0.1:port (optionally serving SD 1.5's shapes with random weights)."""
    import uvicorn

    from api.app import create_app
    from api.settings import Settings
    from generation.loading import LoadedModels

    models = None
    if sd15:
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "bench_generation", ROOT / "bench/generation.py"
        )
        assert spec is not None and spec.loader is not None
        bench_generation = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench_generation)
        pipe, clip, _seconds = bench_generation.build_sd15_shapes()
        models = LoadedModels(pipe, "sd15-shapes", clip)
    settings = Settings(
        data_dir=data_dir,
        torch_threads=1,
        rate_limit_burst=1_000_000,
        rate_limit_per_minute=1_000_000,
        max_side=512,
    )
    uvicorn.run(create_app(settings, models=models), host="127.0.0.1", port=port, log_level="error")


def launch(script: Path, args: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    """``python SCRIPT serve --port P ARGS`` on a free loopback port, returned once /readyz
    answers (bench/db.py starts its servers through this too)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [sys.executable, str(script), "serve", "--port", str(port), *args]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited during start")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("the server did not become ready")


def start_server(data_dir: Path, *, sd15: bool) -> tuple[subprocess.Popen[bytes], str]:
    return launch(
        Path(__file__).resolve(), ["--data", str(data_dir)] + (["--sd15"] if sd15 else [])
    )


def call(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


# -- a minimal keep-alive client ---------------------------------------------------------------


class Connection:
    """One HTTP/1.1 keep-alive connection; the server always sends Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> Connection:
        host, port = url.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def get(self, path: str, token: str | None = None) -> tuple[int, float]:
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        started = time.perf_counter()
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{auth}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status, time.perf_counter() - started

    def close(self) -> None:
        self.writer.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def describe(latencies: list[float]) -> str:
    ms = [v * 1000 for v in latencies]
    return (
        f"p50 {percentile(ms, 0.50):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
        f"max {max(ms):.1f} ms ({len(ms)} requests)"
    )


# -- part 1 ------------------------------------------------------------------------------------


async def hammer(url: str, path: str, token: str, clients: int, each: int) -> tuple[float, list]:
    connections = [await Connection.open(url) for _ in range(clients)]
    latencies: list[float] = []
    failures = 0

    async def client(connection: Connection) -> None:
        nonlocal failures
        for _ in range(each):
            status, seconds = await connection.get(path, token)
            latencies.append(seconds)
            failures += status != 200

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in connections))
    wall = time.perf_counter() - started
    for connection in connections:
        connection.close()
    if failures:
        raise RuntimeError(f"{failures} requests failed")
    return wall, latencies


def list_benchmark(clients: int, each: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_server(Path(tmp) / "data", sd15=False)
        try:
            token = call(f"{url}/v1/users", "POST", {"id": "bench"})["token"]
            for colour in COLOURS:
                for thing, category in zip(THINGS, CATEGORIES, strict=True):
                    attribute = {"text": f"{colour} {thing}", "category": category}
                    attribute["polarity"] = "like" if len(colour) % 2 else "dislike"
                    call(f"{url}/v1/preferences", "POST", attribute, token)
            body = call(f"{url}/v1/preferences", token=token)
            count = sum(len(g["likes"]) + len(g["dislikes"]) for g in body["groups"])
            asyncio.run(hammer(url, "/v1/preferences", token, clients, 10))  # warm up
            wall, latencies = asyncio.run(hammer(url, "/v1/preferences", token, clients, each))
            print(f"GET /v1/preferences, {count} attributes, {clients} concurrent clients:")
            print(f"  {len(latencies) / wall:.0f} requests/s; {describe(latencies)}")
        finally:
            process.terminate()
            process.wait(30)


# -- part 2 ------------------------------------------------------------------------------------


async def probe(url: str, count: int, *, until: Any = None, gap_s: float = 0.01) -> list[float]:
    """Sequential /healthz probes: ``count`` of them, or while ``until()`` says go on."""
    connection = await Connection.open(url)
    latencies: list[float] = []
    for _ in range(count):
        if until is not None and not await until():
            break
        _status, seconds = await connection.get("/healthz")
        latencies.append(seconds)
        await asyncio.sleep(gap_s)
    connection.close()
    return latencies


def health_benchmark(side: int, steps: int, cap_s: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        process, url = start_server(Path(tmp) / "data", sd15=True)
        print(f"SD 1.5 shapes server ready in {time.perf_counter() - started:.0f} s")
        try:
            token = call(f"{url}/v1/users", "POST", {"id": "bench"})["token"]
            call(
                f"{url}/v1/preferences", "POST", {"text": "teal palette", "polarity": "like"}, token
            )
            idle = asyncio.run(probe(url, 500))
            job = call(
                f"{url}/v1/generations",
                "POST",
                {"prompt": "a lighthouse at dusk", "steps": steps, "width": side, "height": side},
                token,
            )["id"]
            deadline = time.monotonic() + cap_s
            state = {"last": 0.0, "status": "queued"}

            async def running() -> bool:
                if time.monotonic() - state["last"] > 0.5:  # type: ignore[operator]
                    state["last"] = time.monotonic()
                    answer = await asyncio.to_thread(call, f"{url}/v1/generations/{job}", "GET",
                                                     None, token)  # fmt: skip
                    state["status"] = answer["status"]
                return state["status"] in ("queued", "running") and time.monotonic() < deadline

            generating = time.perf_counter()
            busy = asyncio.run(probe(url, 1_000_000, until=running))
            took = time.perf_counter() - generating
            final = call(f"{url}/v1/generations/{job}", token=token)
            print(f"/healthz idle: {describe(idle)}")
            print(
                f"/healthz during a {side}x{side}, {steps}-step generation "
                f"({final['status']}, {took:.0f} s): {describe(busy)}"
            )
        finally:
            process.terminate()
            process.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "serve"])
    parser.add_argument("--part", choices=["list", "health", "both"], default="both")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests-per-client", type=int, default=60)
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--cap-s", type=float, default=300.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--sd15", action="store_true")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.port, args.data, args.sd15)
        return
    print(f"bench/api.py on {os.cpu_count()} CPUs, server with 1 torch thread")
    if args.part in ("list", "both"):
        list_benchmark(args.clients, args.requests_per_client)
    if args.part in ("health", "both"):
        health_benchmark(args.side, args.steps, args.cap_s)


if __name__ == "__main__":
    main()
