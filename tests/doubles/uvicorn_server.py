"""The real service in a uvicorn subprocess on 127.0.0.1 and a free port.

A subprocess (not a thread) so a test can kill it hard, as a crash or a power cut would, and
start another over the same data directory. Settings travel as ``TASTEMAKER_*`` variables,
exactly as an operator sets them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.doubles.chroma_server import free_port, wait_for_http
from tests.doubles.forker import ForkedChild, Forker
from tests.doubles.logged_process import LoggedProcess, service_env

ROOT = Path(__file__).parents[2]
PORT_TRIES = 3  # a free port another test takes before the server binds it: pick again


# Ten onboarding comments with likes and dislikes across categories (journey and web tests).
ONBOARDING_COMMENTS = [
    "I love the teal blues and the flowing lines, but the clutter bothers me",
    "the warm golden light is gorgeous; the harsh shadows not so much",
    "beautiful soft watercolor texture, though the composition feels too busy",
    "such a calm, dreamy mood. I dislike the muddy brown tones",
    "great symmetry and lots of negative space, but the neon colours are too loud",
    "the fine intricate details are lovely, the blurry background bothers me",
    "i like the minimalist style, i hate the grainy noise",
    "love the pastel palette and the low angle, not a fan of the flat lighting",
    "the bold geometric shapes are fun, but the dull grey sky is boring",
    "gorgeous backlit glow; the cluttered foreground is a mess",
]


class UvicornServer(LoggedProcess):
    """``start()``, ``stop()`` (graceful) or ``kill()`` (SIGKILL), and ``url``."""

    def __init__(self, data_dir: Path, **settings: str | int | float) -> None:
        self.data_dir = data_dir
        self.settings = {"torch_threads": 1, **settings}
        self.port = 0
        super().__init__(data_dir.parent / f"{data_dir.name}-uvicorn.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait_ready: bool = True, timeout_s: float = 120.0) -> UvicornServer:
        env = {**os.environ, **service_env(self.data_dir, self.settings)}
        self._log = self.log_path.open("ab")
        for _ in range(PORT_TRIES):
            self.port = free_port()
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                    "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                ],
                cwd=ROOT,
                env=env,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                wait_for_http(f"{self.url}/healthz", timeout_s=timeout_s, process=self.process)
                break
            except RuntimeError:
                if not self._port_was_taken():
                    raise
        else:
            raise RuntimeError(f"no free port held for {PORT_TRIES} tries; see {self.log_path}")
        if wait_ready:
            self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        self._wait_for("/readyz", timeout_s)

    def _port_was_taken(self) -> bool:
        """The free port was taken between choosing it and binding it (another test's
        server): the log's last line says so."""
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return bool(lines) and "address already in use" in lines[-1]

    def _wait_for(
        self,
        path: str,
        timeout_s: float,
        poll_s: float = 0.1,
        alive: Callable[[], bool] = lambda: True,
    ) -> None:
        """Until ``path`` answers 2xx; a RuntimeError as soon as ``alive()`` is false (the
        server exited), a TimeoutError after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}{path}", timeout=2):
                    return
            except OSError:
                if not alive():
                    raise RuntimeError(
                        f"the server exited before {path} answered; see {self.log_path}"
                    ) from None
                time.sleep(poll_s)
        raise TimeoutError(f"{self.url}{path} did not answer in {timeout_s} s; see {self.log_path}")


class ForkedUvicornServer(ForkedChild, UvicornServer):
    """A :class:`UvicornServer` whose process ``forker`` forks; it keeps its port across
    restarts, as a node behind a load balancer keeps its address."""

    def __init__(self, forker: Forker, data_dir: Path, **settings: str | int | float) -> None:
        super().__init__(data_dir, **settings)
        self.forker = forker

    def start(self, *, wait_ready: bool = True, timeout_s: float = 120.0) -> ForkedUvicornServer:
        keep_port = bool(self.port)  # a restart answers where the first start did
        for _ in range(PORT_TRIES):
            self.port = self.port or free_port()
            self._fork(service_env(self.data_dir, self.settings), port=self.port)
            try:
                self._wait_for("/healthz", timeout_s, poll_s=0.05, alive=lambda: self.alive)
                break
            except RuntimeError:
                if keep_port or not self._port_was_taken():
                    raise
                self.port = 0
        else:
            raise RuntimeError(f"no free port held for {PORT_TRIES} tries; see {self.log_path}")
        if wait_ready:
            self.wait_ready(timeout_s)
        return self
