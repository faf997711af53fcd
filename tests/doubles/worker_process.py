"""A real ``tastemaker worker`` (Celery, solo pool) in a subprocess, killable like a crash.

``WorkerProcess`` starts one from a fresh interpreter (~15 s of imports on a loaded 2-core
machine). ``ForkedWorker`` starts the same command line forked by a :class:`Forker` that
imported its libraries once (``Forker(log_path, WORKER_IMPORTS)``), in about a second, for tests
that kill and replace workers many times; it is used exactly like a ``WorkerProcess``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.doubles.forker import ForkedChild, Forker
from tests.doubles.logged_process import LoggedProcess, service_env

ROOT = Path(__file__).parents[2]


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
            env={**os.environ, **service_env(self.data_dir, self.settings)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        process = self.process
        wait_ready(self, offset, lambda: process.poll() is not None, timeout_s)
        return self


class ForkedWorker(ForkedChild):
    """A ``WorkerProcess`` look-alike whose process ``forker`` forks (and reaps)."""

    def __init__(
        self, forker: Forker, data_dir: Path, name: str, **settings: str | int | float
    ) -> None:
        self.forker = forker
        self.data_dir = data_dir
        self.name = name
        self.settings: dict[str, str | int | float] = {"torch_threads": 1, **settings}
        super().__init__(data_dir.parent / f"worker-{name}.log")

    def start(self, timeout_s: float = 120.0) -> ForkedWorker:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        pid = self._fork(service_env(self.data_dir, self.settings))
        wait_ready(self, offset, lambda: self.forker.exited(pid), timeout_s)
        return self
