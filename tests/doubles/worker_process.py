"""A real ``tastemaker worker`` (Celery, solo pool) in a subprocess, killable like a crash.

``WorkerProcess`` starts one from a fresh interpreter (~15 s of imports on a loaded 2-core
machine). ``WorkerForker`` starts the same command line forked from a process that imported
its libraries once (``tests/doubles/worker_forker.py``), in about a second, for tests that kill
and replace workers many times; its ``ForkedWorker`` is used exactly like a ``WorkerProcess``.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from tests.doubles.logged_process import LoggedProcess

ROOT = Path(__file__).parents[2]
QUIET = {
    "HF_HUB_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ANONYMIZED_TELEMETRY": "False",
}


def worker_env(data_dir: Path, settings: dict[str, str | int | float]) -> dict[str, str]:
    """What a worker is configured with: ``TASTEMAKER_*`` variables, as an operator sets them."""
    return {
        **QUIET,
        "TASTEMAKER_DATA_DIR": str(data_dir),
        **{f"TASTEMAKER_{k.upper()}": str(v) for k, v in settings.items()},
    }


def wait_ready(log: LoggedProcess, offset: int, exited: object, timeout_s: float) -> None:
    """Until Celery's " ready." appears in the log after ``offset``; raise if it exited first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(exited) and exited():
            raise RuntimeError(f"the worker exited; see {log.log_path}:\n{log.log()[-2000:]}")
        if " ready." in log.log()[offset:]:
            return
        time.sleep(0.1)
    raise TimeoutError(f"the worker was not ready in {timeout_s} s; see {log.log_path}")


class WorkerProcess(LoggedProcess):
    """``start()`` (waits for Celery's "ready."), ``stop()`` (warm shutdown) or ``kill()``."""

    def __init__(self, data_dir: Path, name: str, **settings: str | int | float) -> None:
        self.data_dir = data_dir
        self.name = name
        self.settings: dict[str, str | int | float] = {"torch_threads": 1, **settings}
        super().__init__(data_dir.parent / f"worker-{name}.log")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout_s: float = 120.0) -> WorkerProcess:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from api.cli import main; main()", "worker"],
            cwd=ROOT,
            env={**os.environ, **worker_env(self.data_dir, self.settings)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        process = self.process
        wait_ready(self, offset, lambda: process.poll() is not None, timeout_s)
        return self


class WorkerForker:
    """The forking process and what it reports: which pid each start got, which pids ended."""

    def __init__(self, log_path: Path, timeout_s: float = 180.0) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.doubles.worker_forker"],
            cwd=ROOT,
            env={**os.environ, **QUIET},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self._started: queue.Queue[str] = queue.Queue()
        self._exits: dict[int, int] = {}
        self._ended = threading.Condition()
        self._one_start = threading.Lock()
        self._timeout_s = timeout_s
        self._ready = False
        threading.Thread(target=self._read, name="worker-forker", daemon=True).start()

    def _wait_ready(self) -> None:
        """The first start waits for the imports (so they overlap whatever the test does)."""
        if self._ready:
            return
        try:
            answer = self._started.get(timeout=self._timeout_s)
        except queue.Empty:
            answer = "nothing"
        if answer != "ready":
            raise RuntimeError(f"the worker forker did not start ({answer}); see {self.log_path}")
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
                self._started.put(line)
        self._started.put("forker ended")

    def fork(self, log_path: Path, env: dict[str, str]) -> int:
        """Start ``tastemaker worker`` with ``env`` on top of this environment; its pid."""
        assert self.process.stdin is not None
        with self._one_start:
            self._wait_ready()
            self.process.stdin.write(f"start {log_path} {json.dumps(env)}\n".encode())
            self.process.stdin.flush()
            reply = self._started.get(timeout=60)
        if not reply.startswith("pid "):
            raise RuntimeError(f"the worker forker answered {reply!r}; see {self.log_path}")
        return int(reply.split()[1])

    def exited(self, pid: int) -> bool:
        with self._ended:
            return pid in self._exits

    def wait_exit(self, pid: int, timeout_s: float) -> int | None:
        with self._ended:
            self._ended.wait_for(lambda: pid in self._exits, timeout_s)
            return self._exits.get(pid)

    def worker(self, data_dir: Path, name: str, **settings: str | int | float) -> ForkedWorker:
        return ForkedWorker(self, data_dir, name, **settings)

    def close(self) -> None:
        """Closing its input makes the forker stop the workers still running, then exit."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()


class ForkedWorker(LoggedProcess):
    """A ``WorkerProcess`` look-alike whose process the forker starts (and reaps)."""

    def __init__(
        self, forker: WorkerForker, data_dir: Path, name: str, **settings: str | int | float
    ) -> None:
        self.forker = forker
        self.data_dir = data_dir
        self.name = name
        self.settings: dict[str, str | int | float] = {"torch_threads": 1, **settings}
        self._pid: int | None = None
        super().__init__(data_dir.parent / f"worker-{name}.log")

    @property
    def pid(self) -> int:
        assert self._pid is not None
        return self._pid

    @property
    def alive(self) -> bool:
        return self._pid is not None and not self.forker.exited(self._pid)

    def start(self, timeout_s: float = 120.0) -> ForkedWorker:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        pid = self.forker.fork(self.log_path, worker_env(self.data_dir, self.settings))
        self._pid = pid
        wait_ready(self, offset, lambda: self.forker.exited(pid), timeout_s)
        return self

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
