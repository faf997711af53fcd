"""What the test doubles that run a real service in a subprocess share: its log file, and a stop
(SIGTERM, as an orchestrator would) or a kill (SIGKILL, as a crash would) that always reaps it."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import IO, Any

# The environment every such process gets on top of the test's: offline, one thread, no telemetry.
QUIET = {
    "HF_HUB_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ANONYMIZED_TELEMETRY": "False",
}


def service_env(data_dir: Path, settings: dict[str, str | int | float]) -> dict[str, str]:
    """What a service process is configured with: ``TASTEMAKER_*`` variables, as an operator
    sets them."""
    return {
        **QUIET,
        "TASTEMAKER_DATA_DIR": str(data_dir),
        **{f"TASTEMAKER_{k.upper()}": str(v) for k, v in settings.items()},
    }


class LoggedProcess:
    """A subprocess whose stdout and stderr go to ``log_path``; subclasses start it."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def _end(self, how: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(how)
            reap(self.process)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def reap(process: subprocess.Popen[Any]) -> None:
    """Wait for an ending process; SIGKILL it if it takes over 30 s."""
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
