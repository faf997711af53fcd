"""A worker paused past its lease, twenty times per job kind (issue 25, item 1).

A cluster of real processes on loopback (the API in uvicorn, two ``tastemaker worker`` forked
from one import, the machine's Redis as broker, one SQLite file and data dir, lease 2 s). Per
trial: a job starts; its worker gets SIGSTOP at step 2; the other worker's sweep gives the job
away and runs it; the paused worker gets SIGCONT, on odd trials as soon as the job was given
away (it races the rescuer; when the job is still queued it may claim it again itself, as a new
attempt), on even ones once the rescuer finished it. Counted per kind: jobs that ended done on
their second attempt (and by the other worker), trials where the late worker stored something (an
image file of the job rewritten after it was done, or a second style token from one training
job), its completions after the job was given away, and trials where it said it lost its lease.

    python bench/lease_trials.py                  # 20 generations + 20 trainings, ~4 minutes
    python bench/lease_trials.py --trials 3 --kinds generation
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from tests.doubles.brokers import fresh_redis_db  # noqa: E402
from tests.doubles.celery_cluster import Cluster, submit, user  # noqa: E402
from tests.doubles.forker import WORKER_IMPORTS, Forker  # noqa: E402
from tests.doubles.paused_worker import Trial, like_one_image, pause_past_lease  # noqa: E402

STEPS = {"generation": 40, "style": 60}


def run(kind: str, trials: int, cluster: Cluster) -> list[Trial]:
    done: list[Trial] = []
    with user(cluster.api, f"{kind}-owner") as http:
        if kind == "style":
            like_one_image(http)

        def start() -> str:
            if kind == "generation":
                return submit(http, f"paused {len(done)}", steps=STEPS[kind])
            answer = http.post("/v1/styles", json={"steps": STEPS[kind], "lr": 0.01})
            assert answer.status_code == 202, answer.text
            return str(answer.json()["id"])

        for n in range(trials):
            trial = pause_past_lease(cluster, http, start, resume_after_done=n % 2 == 1)
            done.append(trial)
            print(f"  {kind} {n + 1:2d}: {trial}", flush=True)
    return done


def report(kind: str, trials: list[Trial]) -> str:
    expected_tokens = 1 if kind == "style" else 0
    return (
        f"{kind:10s} trials {len(trials):2d} | done on attempt 2 "
        f"{sum(t.status == 'done' and t.attempts == 2 for t in trials):2d} "
        f"(by the other worker {sum(t.rescued for t in trials):2d}) | "
        f"late worker stored something {sum(t.stored_twice for t in trials):2d} "
        f"(images rewritten {sum(t.rewritten > 0 for t in trials)}, "
        f"extra tokens {sum(max(0, t.tokens - expected_tokens) for t in trials)}) | "
        f"late completions logged {sum(t.finished_twice for t in trials):2d} | "
        f"noticed the lost lease {sum(t.noticed for t in trials):2d} | "
        f"paused {statistics.mean(t.paused_s for t in trials):.1f} s on average"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--kinds", nargs="+", default=["generation", "style"], choices=STEPS)
    args = parser.parse_args()
    began = time.monotonic()
    results: dict[str, list[Trial]] = {}
    with tempfile.TemporaryDirectory() as folder, fresh_redis_db() as redis_url:
        root = Path(folder)
        forker = Forker(root / "forker.log", WORKER_IMPORTS)
        cluster = Cluster(root / "data", forker=forker, broker_url=redis_url)
        try:
            cluster.start()
            for kind in args.kinds:
                results[kind] = run(kind, args.trials, cluster)
        finally:
            cluster.stop()
            forker.close()
    print(f"\nSIGSTOP past the lease (2 s), {time.monotonic() - began:.0f} s in all:")
    for kind, trials in results.items():
        print(report(kind, trials))


if __name__ == "__main__":
    main()
