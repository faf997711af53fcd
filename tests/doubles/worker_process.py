"""A real ``tastemaker worker`` (Celery, solo pool) in a subprocess, killable like a crash."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.doubles.logged_process import LoggedProcess

ROOT = Path(__file__).parents[2]


class WorkerProcess(LoggedProcess):
    """``start()`` (waits for Celery's "ready."), ``stop()`` (warm shutdown) or ``kill()``."""

    def __init__(self, data_dir: Path, name: str, **settings: str | int | float) -> None:
        self.data_dir = data_dir
        self.settings = {"torch_threads": 1, **settings}
        super().__init__(data_dir.parent / f"worker-{name}.log")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout_s: float = 120.0) -> WorkerProcess:
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "ANONYMIZED_TELEMETRY": "False",
            "TASTEMAKER_DATA_DIR": str(self.data_dir),
            **{f"TASTEMAKER_{k.upper()}": str(v) for k, v in self.settings.items()},
        }
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from api.cli import main; main()", "worker"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited; see {self.log_path}:\n{self.log()[-2000:]}")
            if " ready." in self.log()[offset:]:
                return self
            time.sleep(0.2)
        raise TimeoutError(f"the worker was not ready in {timeout_s} s; see {self.log_path}")
