"""torch's CPU threads in the CLI: TASTEMAKER_TORCH_THREADS, else the physical cores (capped),
applied before torch loads; an OMP_NUM_THREADS of the person's own is kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from api.settings import Settings
from api.wiring import threads
from api.wiring.threads import MAX_DEFAULT_THREADS, physical_cores, use_torch_threads
from tests.cli_runner import ok, run_cli

# The real entry point (`--help`, which loads no model), then torch as a command would load it.
_PROBE = """
import json, os, sys
from api.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
assert "torch" not in sys.modules
import torch
print("PROBE" + json.dumps({"threads": torch.get_num_threads(),
                            "omp": os.environ.get("OMP_NUM_THREADS")}))
"""


def _probe(tmp_path: Path, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if k not in {"OMP_NUM_THREADS", "MKL_NUM_THREADS"}}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        env={**clean, "TASTEMAKER_DATA_DIR": str(tmp_path / "data"), **env},
        timeout=120,
        check=True,
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("PROBE"))
    result: dict[str, object] = json.loads(line.removeprefix("PROBE"))
    return result


def test_the_setting_limits_torch_before_it_loads(tmp_path: Path) -> None:
    assert _probe(tmp_path, TASTEMAKER_TORCH_THREADS="1") == {"threads": 1, "omp": "1"}


def test_the_default_is_the_physical_cores_capped(tmp_path: Path) -> None:
    expected = min(physical_cores(), MAX_DEFAULT_THREADS)
    assert _probe(tmp_path)["omp"] == str(expected)


def test_a_persons_own_omp_setting_is_kept_unless_the_setting_says(tmp_path: Path) -> None:
    assert _probe(tmp_path, OMP_NUM_THREADS="1")["omp"] == "1"


def test_a_loaded_torch_is_limited_too(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, "1")  # restored after the test
    monkeypatch.setattr(threads, "_set_here", {})
    before = torch.get_num_threads()
    try:
        assert use_torch_threads(Settings()) is None  # OMP_NUM_THREADS decides
        assert use_torch_threads(Settings(), beside_api=True) is None  # there too
        assert use_torch_threads(Settings(torch_threads=2)) == 2
        assert torch.get_num_threads() == min(2, os.cpu_count() or 1)
    finally:
        torch.set_num_threads(before)


def test_the_worker_inside_the_api_leaves_the_event_loop_a_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Embedded mode: the CLI's own default (every physical core) is not taken for the
    person's OMP_NUM_THREADS; the worker thread then takes one core fewer, at least one."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        # set, then deleted: monkeypatch then restores it (or its absence) after the test, and
        # what use_torch_threads writes below does not stay in this process. A leaked
        # MKL_NUM_THREADS=3 gave later tests' torch three threads (torch reads it after
        # OMP_NUM_THREADS), and a harness forking after torch then hung at an OpenMP barrier.
        monkeypatch.setenv(name, "1")
        monkeypatch.delenv(name)
    monkeypatch.setattr(threads, "_set_here", {})
    cores = min(physical_cores(), MAX_DEFAULT_THREADS)
    before = torch.get_num_threads()
    try:
        assert use_torch_threads(Settings()) == cores  # what `tastemaker serve` starts with
        assert use_torch_threads(Settings(), beside_api=True) == max(1, cores - 1)
        assert torch.get_num_threads() == max(1, min(cores - 1, os.cpu_count() or 1))
        assert os.environ["OMP_NUM_THREADS"] == str(max(1, cores - 1))
        assert use_torch_threads(Settings(torch_threads=3), beside_api=True) == 3  # as set
    finally:
        torch.set_num_threads(before)


def test_physical_cores_are_counted() -> None:
    assert 1 <= physical_cores() <= (os.cpu_count() or 1)


def test_help_names_the_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert "TASTEMAKER_TORCH_THREADS" in ok(run_cli(capsys, "--help")).replace("\n", " ")
