"""HTTP service benchmark: uvicorn on 127.0.0.1, measured from a separate client process.

1. 50 concurrent keep-alive clients on ``GET /v1/preferences`` for a user with 50 attributes:
   requests/s, p50 and p99 latency (budget here: >= 300 requests/s, p99 <= 100 ms).
2. ``/healthz`` latency while a generation runs on a pipeline with SD 1.5's shapes (random
   weights, built from the real configs in ``bench/generation.py``), against the same server
   idle (budget: p99 <= 25 ms during generation). ``--part health-tiny`` does the same with the
   tiny model (a tiny generation job, a minute or two here); both take ``--against REV`` and
   ``--rounds`` like part 1 (the p99 during generation, median of the rounds).

Every loop is bounded (a fixed number of requests, or until the generation ends with a time
cap). The client is a minimal asyncio HTTP/1.1 client so the load generator costs little CPU
next to the server on this 2-core machine.

With ``--against REV`` part 1 also runs the server of another revision (exported with ``git
archive``) and measures both in alternating rounds of one run, with the server's CPU time per
request (less sensitive than requests/s to other work on a shared machine), medians and ratios.
Part 1 measures ``/healthz`` the same way, as the floor of what any request costs.

    python bench/api.py                 # both parts
    python bench/api.py --part list     # only part 1
    python bench/api.py --part list --against ed1dc3f --rounds 3
    python bench/api.py --part health-tiny --side 256 --steps 30 --against c144f29
    python bench/api.py --part health-tiny --steps 20 --torch-threads 2,default --rounds 2

``--torch-threads`` sets this tree's server's torch threads (a comma list is measured in
alternating rounds; ``default``, the default, is what the service does: in embedded mode the
worker leaves the event loop a core). Servers of older revisions (``--against``) used 1.

Figures, with the machine's load and the commands: docs/benchmarks.md. In short (2026-12-07,
this 2-core machine at load average 11-16, medians of alternating rounds in one run):
GET /v1/preferences 878 -> 2,320 requests/s, p99 191 -> 69 ms, server CPU 750 -> 340 us/request
against ee0c1bb (py-spy: the threadpool hop, then the current-version SELECT); /healthz p99
during a tiny 256² x 20-step generation, embedded, 40.7 ms with torch on 2 threads, 25.1 ms with
the default that leaves the event loop a core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
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
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

COLOURS = ["teal", "gold", "crimson", "ochre", "indigo", "sage", "coral", "amber", "slate", "ivory"]
THINGS = ["palette", "highlights", "shadows", "glow", "accents"]
CATEGORIES = ["color", "lighting", "lighting", "lighting", "color"]


# -- the server process ------------------------------------------------------------------------


def serve(port: int, data_dir: Path, sd15: bool, torch_threads: int | None) -> None:
    """Run the app on 127.0.0.1:port (optionally serving SD 1.5's shapes with random weights);
    ``torch_threads`` None: the service's default (the embedded worker leaves a core)."""
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
        torch_threads=torch_threads,
        rate_limit_burst=1_000_000,
        rate_limit_per_minute=1_000_000,
        max_side=512,
    )
    uvicorn.run(create_app(settings, models=models), host="127.0.0.1", port=port, log_level="error")


def launch(script: Path, args: list[str], root: Path = ROOT) -> tuple[subprocess.Popen[bytes], str]:
    """``python SCRIPT serve --port P ARGS`` on a free loopback port, returned once /readyz
    answers (bench/db.py starts its servers through this too)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [sys.executable, str(script), "serve", "--port", str(port), *args]
    process = subprocess.Popen(command, cwd=root, stderr=subprocess.DEVNULL)
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


def start_server(
    data_dir: Path, *, sd15: bool, root: Path = ROOT, torch_threads: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """The app of the tree at ``root`` (this checkout, or a revision exported by --against);
    ``torch_threads`` is passed to this tree's server only (older ones used 1)."""
    args = ["--data", str(data_dir)] + (["--sd15"] if sd15 else [])
    if torch_threads is not None:
        args += ["--torch-threads", str(torch_threads)]
    return launch(root / "bench/api.py", args, root)


def export_revision(revision: str, into: Path) -> Path:
    """The tree of ``revision`` (e.g. the commit before a change) as files under ``into``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision], cwd=ROOT, check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def hammer(
    url: str, path: str, token: str | None, clients: int, each: int
) -> tuple[float, list]:
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


def seed(url: str) -> str:
    """A user with 50 attributes (10 colours x 5 things); returns its token."""
    token: str = call(f"{url}/v1/users", "POST", {"id": "bench"})["token"]
    for colour in COLOURS:
        for thing, category in zip(THINGS, CATEGORIES, strict=True):
            attribute = {"text": f"{colour} {thing}", "category": category}
            attribute["polarity"] = "like" if len(colour) % 2 else "dislike"
            call(f"{url}/v1/preferences", "POST", attribute, token)
    return token


class Figures:
    """Requests/s, p50, p99 and server CPU per request of one hammering."""

    def __init__(self, wall: float, latencies: list[float], cpu_s: float | None) -> None:
        ms = sorted(v * 1000 for v in latencies)
        self.rate = len(ms) / wall
        self.p50 = percentile(ms, 0.50)
        self.p99 = percentile(ms, 0.99)
        self.cpu_us = None if cpu_s is None else cpu_s / len(ms) * 1e6

    def __str__(self) -> str:
        cpu = "" if self.cpu_us is None else f", server CPU {self.cpu_us:.0f} us/request"
        return f"{self.rate:.0f} requests/s; p50 {self.p50:.1f} ms, p99 {self.p99:.1f} ms{cpu}"


def measure(process: subprocess.Popen[bytes], url: str, path: str, token: str | None,
            clients: int, each: int) -> Figures:  # fmt: skip
    asyncio.run(hammer(url, path, token, clients, 10))  # warm up
    before = cpu_seconds(process.pid)
    wall, latencies = asyncio.run(hammer(url, path, token, clients, each))
    after = cpu_seconds(process.pid)
    cpu = None if before is None or after is None else after - before
    return Figures(wall, latencies, cpu)


def median_of(figures: list[Figures]) -> str:
    cpu = [f.cpu_us for f in figures if f.cpu_us is not None]
    return (
        f"{statistics.median(f.rate for f in figures):.0f} requests/s; "
        f"p50 {statistics.median(f.p50 for f in figures):.1f} ms, "
        f"p99 {statistics.median(f.p99 for f in figures):.1f} ms"
        + (f", server CPU {statistics.median(cpu):.0f} us/request" if cpu else "")
    )


def list_benchmark(clients: int, each: int, against: str | None, rounds: int) -> None:
    """GET /v1/preferences (and /healthz) from ``clients`` keep-alive clients; with
    ``against``, that revision's server is measured too, in alternating rounds of one run."""
    paths = ["/v1/preferences", "/healthz"]
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": ROOT}
        if against:
            (Path(tmp) / "against").mkdir()
            trees = {against: export_revision(against, Path(tmp) / "against"), **trees}
        servers = {}
        try:
            for name, root in trees.items():
                process, url = start_server(Path(tmp) / f"data-{len(servers)}", sd15=False,
                                            root=root)  # fmt: skip
                servers[name] = (process, url, seed(url))
            process, url, token = next(iter(servers.values()))
            body = call(f"{url}/v1/preferences", token=token)
            count = sum(len(g["likes"]) + len(g["dislikes"]) for g in body["groups"])
            print(f"{count} attributes, {clients} concurrent clients, {clients * each} requests "
                  f"a measurement, {rounds} round(s)")  # fmt: skip
            results: dict[tuple[str, str], list[Figures]] = {}
            for round_ in range(rounds):
                for name, (process, url, token) in servers.items():
                    for path in paths:
                        figures = measure(process, url, path, token, clients, each)
                        results.setdefault((name, path), []).append(figures)
                        print(f"  round {round_ + 1}, {name}, GET {path}: {figures}")
            for path in paths:
                print(f"GET {path}, median of {rounds}:")
                for name in servers:
                    print(f"  {name}: {median_of(results[name, path])}")
                if against:
                    old, new = results[against, path], results["this tree", path]
                    rate = statistics.median(n.rate / o.rate for o, n in zip(old, new, strict=True))
                    p99 = statistics.median(n.p99 / o.p99 for o, n in zip(old, new, strict=True))
                    print(f"  this tree / {against}, median of the rounds' ratios: "
                          f"requests/s x{rate:.2f}, p99 x{p99:.2f}")  # fmt: skip
        finally:
            for process, _url, _token in servers.values():
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


def health_during_generation(
    root: Path, data_dir: Path, *, sd15: bool, side: int, steps: int, cap_s: float,
    torch_threads: int | None,
) -> tuple[list[float], list[float], str]:  # fmt: skip
    """Sequential /healthz probes on an idle server of the tree at ``root``, then while one
    generation of ``side``² × ``steps`` runs on it; (idle, busy, what the job did)."""
    process, url = start_server(data_dir, sd15=sd15, root=root, torch_threads=torch_threads)
    try:
        token = call(f"{url}/v1/users", "POST", {"id": "bench"})["token"]
        call(f"{url}/v1/preferences", "POST", {"text": "teal palette", "polarity": "like"}, token)
        idle = asyncio.run(probe(url, 300))
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
        return idle, busy, f"{side}x{side}, {steps} steps, {final['status']} in {took:.1f} s"
    finally:
        process.terminate()
        process.wait(60)


def health_benchmark(
    side: int, steps: int, cap_s: float, *, sd15: bool, against: str | None, rounds: int,
    threads: list[int | None],
) -> None:  # fmt: skip
    """/healthz idle and while a generation runs (SD 1.5's shapes, or the tiny model), this
    tree's server with each torch thread count in ``threads`` (None: the service's default);
    with ``against``, that revision's server too; in alternating rounds, medians of the p99s."""
    with tempfile.TemporaryDirectory() as tmp:
        servers: dict[str, tuple[Path, int | None]] = {}
        if against:
            (Path(tmp) / "against").mkdir()
            servers[against] = (export_revision(against, Path(tmp) / "against"), None)
        for count in threads:
            named = "default" if count is None else str(count)
            servers[f"this tree, torch threads {named}"] = (ROOT, count)
        model = "SD 1.5 shapes" if sd15 else "tiny model"
        p99s: dict[str, list[float]] = {name: [] for name in servers}
        for round_ in range(rounds):
            for index, (name, (root, count)) in enumerate(servers.items()):
                data = Path(tmp) / f"data-{index}-{round_}"
                idle, busy, job = health_during_generation(
                    root, data, sd15=sd15, side=side, steps=steps, cap_s=cap_s,
                    torch_threads=count,
                )  # fmt: skip
                p99s[name].append(percentile([v * 1000 for v in busy], 0.99))
                print(f"  round {round_ + 1}, {name}, {model}: /healthz idle: {describe(idle)}")
                print(f"  round {round_ + 1}, {name}, {model}: during a {job}: {describe(busy)}")
        for name, values in p99s.items():
            print(f"/healthz p99 during generation, {name}, median of {rounds}: "
                  f"{statistics.median(values):.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "serve"])
    parser.add_argument("--part", choices=["list", "health", "health-tiny", "both"], default="both")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests-per-client", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--against", metavar="REV", help="also measure the server of this git revision"
    )
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--cap-s", type=float, default=300.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--sd15", action="store_true")
    parser.add_argument(
        "--torch-threads",
        default="",
        help="health parts: comma-separated torch thread counts of this tree's server, each "
        "measured in its own rounds ('default': the service's default); serve: one count",
    )
    args = parser.parse_args()
    threads = [None if t in ("", "default") else int(t) for t in args.torch_threads.split(",")]
    if args.mode == "serve":
        serve(args.port, args.data, args.sd15, threads[0])
        return
    print(f"bench/api.py on {os.cpu_count()} CPUs")
    if args.part in ("list", "both"):
        list_benchmark(args.clients, args.requests_per_client, args.against, args.rounds)
    if args.part in ("health", "both"):
        health_benchmark(args.side, args.steps, args.cap_s, sd15=True, against=args.against,
                         rounds=args.rounds, threads=threads)  # fmt: skip
    if args.part == "health-tiny":
        health_benchmark(args.side, args.steps, args.cap_s, sd15=False, against=args.against,
                         rounds=args.rounds, threads=threads)  # fmt: skip


if __name__ == "__main__":
    main()
