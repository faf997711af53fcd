"""CLI start-up benchmark: wall time of `tastemaker --help` and `tastemaker prefs show`.

Each command runs in a fresh process, as a person runs it, alternated with the others so that
load on this shared machine falls on all of them alike; medians of ``--runs`` runs. Goals:
``--help`` <= 0.5 s, ``prefs show`` <= 1.0 s. Printed side by side with the interpreter's bare
start and with ``import torch, sentence_transformers`` (what every command paid before the
imports became lazy), then the modules that cost the most in ``prefs show`` from
``python -X importtime``.

    python bench/cli.py
    python bench/cli.py --runs 9
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

GOALS_S = {"tastemaker --help": 0.5, "tastemaker prefs show": 1.0}


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TASTEMAKER_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "COLUMNS": "120",
    }


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run in a fresh process; CPU time
    is less sensitive to other work on a shared machine than wall time."""
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=300)
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return wall, cpu


def _importtime(argv: list[str], env: dict[str, str], top: int) -> list[tuple[float, str]]:
    """The ``top`` top-level imports by cumulative time (seconds), from ``-X importtime``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip(" "))) // 2
        if depth <= 2:  # the command module itself and what it imports directly
            rows.append((int(cumulative) / 1e6, name.strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    cli = [sys.executable, "-c", "from api.cli import main; main()"]
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(Path(tmp) / "data")
        for text in ("teal palette", "film grain", "cluttered composition"):
            subprocess.run(
                [*cli, "prefs", "add", "alice", "like", text, "--category", "color"],
                env=env,
                check=True,
                capture_output=True,
                timeout=300,
            )
        commands = {
            "python (bare start)": [sys.executable, "-c", "pass"],
            "tastemaker --help": [*cli, "--help"],
            "tastemaker prefs show": [*cli, "prefs", "show", "alice"],
            "import torch, sentence_transformers": [
                sys.executable,
                "-c",
                "import torch, sentence_transformers",
            ],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                wall_s, cpu_s = _run(argv, env)
                times[name].append(wall_s)
                cpu[name].append(cpu_s)
        breakdown = _importtime(
            ["-c", "from api.cli import main; main()", "prefs", "show", "alice"], env, 12
        )

    print(f"median wall time of {args.runs} runs each, alternated (one process per run)")
    print(f"{'command':38} {'median s':>9} {'min s':>6} {'cpu s':>6} {'goal s':>6} {'med/goal':>9}")
    for name, samples in times.items():
        median = statistics.median(samples)
        goal = GOALS_S.get(name)
        ratio = f"{median / goal:9.2f}" if goal else " " * 9
        goal_text = f"{goal:6.2f}" if goal else " " * 6
        cpu_s = statistics.median(cpu[name])
        print(f"{name:38} {median:9.3f} {min(samples):6.3f} {cpu_s:6.3f} {goal_text} {ratio}")
    help_s = statistics.median(times["tastemaker --help"])
    heavy_s = statistics.median(times["import torch, sentence_transformers"])
    print(f"--help / (import torch + sentence-transformers): {help_s / heavy_s:.3f}")
    print("\n`prefs show`, biggest imports by cumulative time (python -X importtime):")
    for seconds, name in breakdown:
        print(f"  {seconds * 1000:8.1f} ms  {name}")


if __name__ == "__main__":
    main()
