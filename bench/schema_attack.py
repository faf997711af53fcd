"""The outside attack's schemathesis part (issue 25): every phase of the runner against the real
service on SQLite and on PostgreSQL, side by side in one run; prints the cases sent and every
failure (a 5xx, a response that breaks the schema) per database.

The service runs in uvicorn on loopback with the tight generation bounds of
``tests/test_api_schema.py`` (the valid generations it queues stay tiny) and no rate limit; the
cases carry the token of a user that has two preferences.

    python bench/schema_attack.py                       # 30 examples per operation, both
    python bench/schema_attack.py --examples 50 --database postgresql --seed 7
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402

from tests.doubles.cluster import fresh_postgres_database  # noqa: E402
from tests.doubles.uvicorn_server import UvicornServer  # noqa: E402

TIGHT = {
    "max_steps": 2,
    "max_side": 64,
    "max_images": 1,
    "job_queue_size": 3,
    "rate_limit_burst": 100_000,
    "rate_limit_per_minute": 100_000,
}


def token_for(url: str) -> str:
    created = httpx.post(f"{url}/v1/users", json={"id": "fuzz"}, timeout=30).json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    for text in ("teal palette", "cluttered composition"):
        body = {"text": text, "polarity": "like"}
        httpx.post(f"{url}/v1/preferences", headers=headers, json=body, timeout=30)
    return str(created["token"])


def attack(url: str, token: str, examples: int, seed: int, workdir: Path) -> str:
    run = subprocess.run(
        [
            sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
            "run", f"{url}/openapi.json",
            "--phases", "examples,coverage,fuzzing,stateful",
            "--mode", "all",
            "--max-examples", str(examples),
            "--checks", "not_a_server_error,response_schema_conformance",
            "--header", f"Authorization: Bearer {token}",
            "--workers", "1",
            "--request-timeout", "30",
            "--seed", str(seed),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=3_600,
        cwd=workdir,
    )  # fmt: skip
    return run.stdout + run.stderr


def summary(report: str) -> str:
    """The runner's own closing lines: cases generated, failures by check, the seed."""
    found = re.search(r"=+ SUMMARY =+(.*)", report, re.S)
    return (found.group(1) if found else report[-3_000:]).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=random.randrange(2**31))
    parser.add_argument(
        "--database", choices=["sqlite", "postgresql"], action="append", default=None
    )
    args = parser.parse_args()
    for database in args.database or ["sqlite", "postgresql"]:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            settings: dict[str, str | int | float] = dict(TIGHT)
            if database == "postgresql":
                settings["database_url"] = stack.enter_context(fresh_postgres_database())
                settings["auto_migrate"] = "true"
            server = UvicornServer(Path(tmp) / "data", **settings).start()
            stack.callback(server.stop)
            started = time.perf_counter()
            report = attack(server.url, token_for(server.url), args.examples, args.seed, Path(tmp))
            print(f"== {database}: seed {args.seed}, {args.examples} examples per operation, "
                  f"{time.perf_counter() - started:.0f} s")  # fmt: skip
            print(summary(report), flush=True)
            errors = [
                line for line in server.log_path.read_text(errors="replace").splitlines()
                if "Traceback" in line or " 500 " in line
            ]  # fmt: skip
            print(f"  server log: {len(errors)} traceback / 500 line(s)")


if __name__ == "__main__":
    main()
