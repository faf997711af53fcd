"""Every bench/ script still starts (``--help``), and the quick ones run with their smallest
settings, so none rots between the times someone measures with it.

The ``--help`` runs share one process (runpy, one script after another): most scripts import
torch at the top, and importing it once keeps this file to seconds rather than a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py"))
# The scripts with a mode small enough for the suite, with that mode.
QUICK = {
    "conflicts.py": [],
    "evidence_similarity.py": ["--limit", "20"],
    "samplers.py": ["--tiny", "--rounds", "1", "--side", "64", "--steps", "2", "--hash-mb", "1"],
}

_RUNNER = """
import contextlib, io, json, runpy, sys
results = {}
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    script = 'if __name__ == "__main__":' in text
    sys.argv = [path, "--help"]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__" if script else "bench_module")
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except Exception as error:
        code, out = 1, io.StringIO(f"{type(error).__name__}: {error}")
    results[path] = {"code": code, "script": script, "out": out.getvalue()}
print("RESULTS" + json.dumps(results))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def helped() -> dict[str, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, *(str(ROOT / "bench" / name) for name in SCRIPTS)],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=300,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULTS")), None)
    assert line is not None, done.stderr[-3000:]
    results: dict[str, dict[str, object]] = json.loads(line.removeprefix("RESULTS"))
    return {Path(path).name: result for path, result in results.items()}


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_bench_script_starts(name: str, helped: dict[str, dict[str, object]]) -> None:
    result = helped[name]
    assert result["code"] == 0, result["out"]
    if result["script"]:  # a helper module (llm_simulation.py) only has to import
        assert "usage:" in str(result["out"])


@pytest.mark.parametrize("name", sorted(QUICK))
def test_the_quick_bench_scripts_run(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), *QUICK[name]],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip()


def test_every_quick_entry_is_a_bench_script() -> None:
    assert set(QUICK) <= set(SCRIPTS)
