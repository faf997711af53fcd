"""API nodes that restart in seconds: uvicorn serving ``api.app:create_app`` (and
``tastemaker worker`` processes) forked from one parent that imported the service once, as
``gunicorn --preload`` does.

A plain ``python -m uvicorn`` start spends most of its 10-25 s on this machine importing torch,
transformers and chromadb; a kill -9 test that restarts a node twenty times cannot afford that.
Here ``python -m tests.doubles.api_forker`` imports ``api.app`` and uvicorn, then reads JSON
commands on stdin. ``start`` forks a child that sets its ``TASTEMAKER_*`` variables and runs
uvicorn over its own data dir: the whole lifespan (engine, embedder, stores, job queue) is built
in the child, after the fork, as in a fresh process; nothing opened before the fork is shared.
``kill`` sends SIGKILL, ``stop`` SIGTERM (SIGKILL after 30 s); both reap the child and answer its
exit code. Children die with the parent, and the parent ends when its stdin closes.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

from tests.doubles.chroma_server import free_port
from tests.doubles.logged_process import reap
from tests.doubles.uvicorn_server import UvicornServer

ROOT = Path(__file__).parents[2]
PR_SET_PDEATHSIG = 1


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _serve_child(port: int, data_dir: str, log_path: str, env: dict[str, str]) -> None:
    """In the forked child: become the API node (``port``) or, with port 0, a
    ``tastemaker worker``; then never return."""
    code = 0
    try:
        # No orphans: the child is killed when the forker ends (with the test run).
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ.update(env, TASTEMAKER_DATA_DIR=data_dir)
        if port == 0:
            from api.cli import main

            sys.argv = ["tastemaker", "worker"]
            main()
        else:
            import uvicorn

            config = uvicorn.Config(
                "api.app:create_app", factory=True, host="127.0.0.1", port=port, log_level="warning"
            )
            uvicorn.Server(config).run()
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _end(pid: int, how: signal.Signals) -> int:
    os.kill(pid, how)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


# What a node's start imports, lazily or not: imported once in the parent. Importing starts no
# thread and opens nothing, so each child still builds every object of its own.
PRELOAD = [
    "uvicorn", "api.app", "api.cli", "chromadb", "sentence_transformers", "alembic", "celery",
    "celery.apps.worker", "psycopg", "redis", "sqlalchemy.dialects.postgresql.psycopg",
]  # fmt: skip


def serve() -> None:
    for module in PRELOAD:
        importlib.import_module(module)
    say({"ready": True})
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] == "start":
            pid = os.fork()
            if pid == 0:
                _serve_child(command["port"], command["data_dir"], command["log"], command["env"])
            say({"pid": pid})
        else:
            how = signal.SIGKILL if command["do"] == "kill" else signal.SIGTERM
            say({"exit": _end(command["pid"], how)})


class ApiForker:
    """The parent process, driven over a pipe; ``close()`` ends it (and any child left)."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._lock = threading.Lock()
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout_s: float = 180.0) -> ApiForker:
        self._log = self.log_path.open("ab")
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "ANONYMIZED_TELEMETRY": "False",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.doubles.api_forker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._answer()
        return self

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process is not None and self.process.stdin is not None
        with self._lock:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
            return self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the API forker ended; see {self.log_path}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.process is not None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # the forker's loop ends; its children follow it
            reap(self.process)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


class ForkedChild:
    """A process ``forker`` forked (``pid``): ``kill()`` is SIGKILL, ``stop()`` a graceful end."""

    forker: ApiForker
    pid: int | None

    def kill(self) -> None:
        self._ask_end("kill")

    def stop(self) -> None:
        self._ask_end("stop")

    def _ask_end(self, how: str) -> None:
        if self.pid is not None:
            self.forker.ask(do=how, pid=self.pid)
            self.pid = None


class ForkedUvicornServer(ForkedChild, UvicornServer):
    """A :class:`UvicornServer` whose process is forked by ``forker``; it keeps its port across
    restarts, as a node behind a load balancer keeps its address."""

    def __init__(self, forker: ApiForker, data_dir: Path, **settings: str | int | float) -> None:
        super().__init__(data_dir, **settings)
        self.forker = forker
        self.pid: int | None = None

    def start(self, *, wait_ready: bool = True, timeout_s: float = 120.0) -> ForkedUvicornServer:
        self.port = self.port or free_port()
        env = {f"TASTEMAKER_{k.upper()}": str(v) for k, v in self.settings.items()}
        self.pid = int(
            self.forker.ask(
                do="start",
                port=self.port,
                data_dir=str(self.data_dir),
                log=str(self.log_path),
                env=env,
            )["pid"]
        )
        self._wait_healthy(timeout_s)
        if wait_ready:
            self.wait_ready(timeout_s)
        return self

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"{self.url} did not answer in {timeout_s} s; see {self.log_path}")


if __name__ == "__main__":
    serve()
    os._exit(0)  # children were reaped or die with us (PDEATHSIG); skip interpreter teardown


class ForkedWorker(ForkedChild):
    """A ``tastemaker worker`` forked by ``forker``: ``start()`` waits for Celery's "ready.",
    ``stop()`` is a warm shutdown (SIGTERM), ``kill()`` SIGKILL, as :class:`WorkerProcess`."""

    def __init__(
        self, forker: ApiForker, data_dir: Path, name: str, **settings: str | int | float
    ) -> None:
        self.forker = forker
        self.data_dir = data_dir
        self.settings = {"torch_threads": 1, **settings}
        self.log_path = data_dir.parent / f"worker-{name}.log"
        self.pid: int | None = None

    def start(self, timeout_s: float = 120.0) -> ForkedWorker:
        env = {f"TASTEMAKER_{k.upper()}": str(v) for k, v in self.settings.items()}
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.pid = int(
            self.forker.ask(
                do="start", port=0, data_dir=str(self.data_dir), log=str(self.log_path), env=env
            )["pid"]
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if " ready." in self.log()[offset:]:
                return self
            time.sleep(0.2)
        raise TimeoutError(f"the worker was not ready in {timeout_s} s; see {self.log_path}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
