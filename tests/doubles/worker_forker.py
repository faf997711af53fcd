"""Real ``tastemaker worker`` processes started in about a second, for tests that kill many.

A worker's start is mostly imports (torch, diffusers, transformers, Celery: ~15 s on a loaded
2-core machine). ``python -m tests.doubles.worker_forker`` imports those modules once, opens
nothing (no database, broker, Redis or model), then forks on each command. The child sets its
``TASTEMAKER_*`` variables, sends its output to its log file and runs the real command line,
``tastemaker worker``: it loads the model, opens the job rows and the broker, and serves jobs
exactly as a worker started from a shell does, only with warm imports.

Protocol (one line each way): ``start LOG_PATH ENV_JSON`` → ``pid N``; the forker reaps its
children and writes ``exit N CODE`` (``-9`` after a SIGKILL). The forker stays single-threaded,
so a fork never copies a lock another thread held.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import select
import signal
import sys
import time

import api.cli

# What ``tastemaker worker`` imports before it serves; imported once, before any fork.
PRELOADED = (
    "torch",
    "transformers",
    "diffusers",
    "celery.apps.worker",
    "celery.worker.consumer",
    "kombu.transport.redis",
    "api.wiring.generation",
    "api.jobs.celery_engine",
    "api.wiring.jobs",
    "generation.tiny",
)
PR_SET_PDEATHSIG = 1
children: set[int] = set()


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def child(log_path: str, env: dict[str, str]) -> None:
    """In the fork: the real worker command, its output in its log. Never returns."""
    code = 1
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # no orphan outlives us
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ.update(env)
        sys.argv = ["tastemaker", "worker"]
        try:
            api.cli.main(["worker"])
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def reap() -> None:
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
        reap()
        time.sleep(0.1)
    for pid in children:
        os.kill(pid, signal.SIGKILL)


def serve() -> None:
    for name in PRELOADED:
        importlib.import_module(name)
    say("ready")
    pending = b""
    while True:
        readable, _, _ = select.select([0], [], [], 0.1)
        reap()
        if not readable:
            continue
        chunk = os.read(0, 65_536)
        if not chunk:
            stop_children()
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            _command, log_path, raw_env = line.decode().split(" ", 2)
            env = {str(k): str(v) for k, v in json.loads(raw_env).items()}
            pid = os.fork()
            if pid == 0:
                child(log_path, env)
            children.add(pid)
            say(f"pid {pid}")


if __name__ == "__main__":
    serve()
    os._exit(0)  # nothing to flush; skips seconds of interpreter teardown
