"""Real service processes (``tastemaker worker``, API nodes in uvicorn) started in about a
second, forked from one process that imported their libraries once, as ``gunicorn --preload``
does: for tests that kill and restart them many times.

A fresh start spends most of its 10-25 s on a loaded 2-core machine importing torch,
transformers, diffusers, chromadb and Celery. ``python -m tests.doubles.forker MODULE...``
imports the modules named, once, says ``ready``, then forks on each command. Importing starts no
thread and opens nothing (no database, broker, Redis or model), so each child builds every
object of its own: it sets its ``TASTEMAKER_*`` variables, sends its output to its log file and
runs the real thing, ``tastemaker worker`` or uvicorn serving ``api.app:create_app`` (the whole
lifespan: engine, embedder, stores, job queue), exactly as a process started from a shell does,
only with warm imports.

Protocol, one line each way: ``{"log": PATH, "port": N, "env": {...}}`` (port 0: a worker) →
``pid N``; the forker reaps its children and writes ``exit N CODE`` (``-9`` after a SIGKILL),
whoever signalled them. Children die with the forker (PDEATHSIG); when its stdin closes it stops
those still running, warm then hard, and ends. It stays single-threaded, so a fork never copies
a lock another thread held.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from tests.doubles.logged_process import QUIET, LoggedProcess, reap

ROOT = Path(__file__).parents[2]
PR_SET_PDEATHSIG = 1

# What ``tastemaker worker`` imports before it serves.
WORKER_IMPORTS = (
    "api.cli",
    "torch",
    "transformers",
    "diffusers",
    "celery.apps.worker",
    "celery.worker.consumer",
    "kombu.transport.redis",
    "api.wiring.generation",
    "jobs.celery_engine",
    "api.wiring.jobs",
    "generation.tiny",
)
# What an API node's start imports, lazily or not (and a worker's, for a forker of both).
NODE_IMPORTS = (
    "uvicorn", "api.app", "api.cli", "chromadb", "chromadb.api.rust", "sentence_transformers",
    "alembic", "celery", "celery.apps.worker", "psycopg", "redis",
    "sqlalchemy.dialects.postgresql.psycopg",
)  # fmt: skip
# Both: what the session's shared forker imports (the ``service_forker`` fixture in conftest.py).
SERVICE_IMPORTS = tuple(dict.fromkeys(NODE_IMPORTS + WORKER_IMPORTS))

# -- the forking process --------------------------------------------------------------------------

children: set[int] = set()


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run_child(log_path: str, port: int, env: dict[str, str]) -> None:
    """In the fork: the API node on ``port`` or, with port 0, ``tastemaker worker``, its output
    in its log. Never returns."""
    code = 1
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))  # no orphan outlives us
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ.update(env)
        if port == 0:
            from api.cli import main

            sys.argv = ["tastemaker", "worker"]
            main(["worker"])
        else:
            import uvicorn

            config = uvicorn.Config(
                "api.app:create_app", factory=True, host="127.0.0.1", port=port, log_level="warning"
            )
            uvicorn.Server(config).run()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def reap_children() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        say(f"exit {pid} {os.waitstatus_to_exitcode(status)}")


def stop_children(timeout_s: float = 20.0) -> None:
    """The test is gone (our stdin closed): stop what it left running, warm then hard."""
    for pid in children:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while children and time.monotonic() < deadline:
        reap_children()
        time.sleep(0.1)
    for pid in children:
        os.kill(pid, signal.SIGKILL)


def serve(modules: Sequence[str]) -> None:
    for name in modules:
        importlib.import_module(name)
    say("ready")
    pending = b""
    while True:
        readable, _, _ = select.select([0], [], [], 0.1)
        reap_children()
        if not readable:
            continue
        chunk = os.read(0, 65_536)
        if not chunk:
            stop_children()
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            command = json.loads(line)
            env = {str(k): str(v) for k, v in command["env"].items()}
            pid = os.fork()
            if pid == 0:
                run_child(command["log"], int(command["port"]), env)
            children.add(pid)
            say(f"pid {pid}")


# -- the test's side ------------------------------------------------------------------------------


def without_settings(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith("TASTEMAKER_")}


class Forker:
    """The forking process, importing ``modules`` from the start (the first fork waits for
    them), and what it reports: which pid each start got, which pids ended."""

    def __init__(self, log_path: Path, modules: Sequence[str], timeout_s: float = 180.0) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.doubles.forker", *modules],
            cwd=ROOT,
            # no TASTEMAKER_* of the test that happened to start it: each fork sets its own
            env={**without_settings(os.environ), **QUIET},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self._started: queue.Queue[str] = queue.Queue()
        self._exits: dict[int, int] = {}
        self._ended = threading.Condition()
        self._one_start = threading.RLock()
        self._timeout_s = timeout_s
        self._ready = False
        threading.Thread(target=self._read, name="forker", daemon=True).start()

    def wait_ready(self) -> None:
        """Until the forker has imported its modules (raises if it failed to)."""
        with self._one_start:
            if self._ready:
                return
            try:
                answer = self._started.get(timeout=self._timeout_s)
            except queue.Empty:
                answer = "nothing"
            if answer != "ready":
                raise RuntimeError(f"the forker did not start ({answer}); see {self.log_path}")
            self._ready = True

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode().strip()
            if line.startswith("exit "):
                _, pid, code = line.split()
                with self._ended:
                    self._exits[int(pid)] = int(code)
                    self._ended.notify_all()
            else:
                if line.startswith("pid "):
                    with self._ended:  # a new child: a pid reused is not the one that ended
                        self._exits.pop(int(line.split()[1]), None)
                self._started.put(line)
        self._started.put("forker ended")

    def fork(self, log_path: Path, env: dict[str, str], port: int = 0) -> int:
        """Start an API node on ``port`` (0: ``tastemaker worker``) with ``env`` on top of this
        environment, its output in ``log_path``; its pid."""
        assert self.process.stdin is not None
        command = {"log": str(log_path), "port": port, "env": env}
        with self._one_start:
            self.wait_ready()
            self.process.stdin.write(json.dumps(command).encode() + b"\n")
            self.process.stdin.flush()
            reply = self._started.get(timeout=60)
        if not reply.startswith("pid "):
            raise RuntimeError(f"the forker answered {reply!r}; see {self.log_path}")
        return int(reply.split()[1])

    def exited(self, pid: int) -> bool:
        with self._ended:
            return pid in self._exits

    def wait_exit(self, pid: int, timeout_s: float) -> int | None:
        with self._ended:
            self._ended.wait_for(lambda: pid in self._exits, timeout_s)
            return self._exits.get(pid)

    def close(self) -> None:
        """Closing its input makes the forker stop the children still running, then exit."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        reap(self.process)
        self._log.close()


class ForkedChild(LoggedProcess):
    """A process ``forker`` forks: ``pid``, ``alive``, and ``stop()`` (SIGTERM) or ``kill()``
    (SIGKILL), which wait until the forker reaped it (SIGKILL after 30 s)."""

    forker: Forker
    _pid: int | None = None

    @property
    def pid(self) -> int:
        assert self._pid is not None
        return self._pid

    @property
    def alive(self) -> bool:
        return self._pid is not None and not self.forker.exited(self._pid)

    def _fork(self, env: dict[str, str], port: int = 0) -> int:
        """With this process's environment under ``env``, as a subprocess started here gets it
        (the forker may have been started by another test, long before)."""
        self._pid = self.forker.fork(self.log_path, {**os.environ, **env}, port)
        return self._pid

    def _end(self, how: signal.Signals) -> None:
        if self._pid is None:
            return
        pid, self._pid = self._pid, None
        if self.forker.exited(pid):
            return
        os.kill(pid, how)
        if self.forker.wait_exit(pid, 30) is None:
            os.kill(pid, signal.SIGKILL)
            self.forker.wait_exit(pid, 10)


if __name__ == "__main__":
    serve(sys.argv[1:])
    os._exit(0)  # nothing to flush; skips seconds of interpreter teardown
