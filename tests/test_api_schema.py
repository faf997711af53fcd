"""Property-based: schemathesis generates requests from ``/openapi.json`` (valid and invalid,
single calls and stateful sequences) and sends them to the real service, on SQLite and on
PostgreSQL (whose columns refuse what SQLite stores: issue 25, item 4); none may get a 5xx or
a response that breaks the schema.

The server runs with tight generation bounds so the valid generations it queues stay tiny.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.doubles.cluster import fresh_postgres_database
from tests.doubles.forker import Forker
from tests.doubles.uvicorn_server import ForkedUvicornServer, UvicornServer

EXAMPLES = 6


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    service_forker: Forker,
    shared_cache_dir: str,
) -> Iterator[UvicornServer]:
    with ExitStack() as stack:
        database: dict[str, str] = {}
        if request.param == "postgresql":
            url = stack.enter_context(fresh_postgres_database())
            database = {"database_url": url, "auto_migrate": "true"}
        service = ForkedUvicornServer(
            service_forker,
            cache_dir=shared_cache_dir,
            data_dir=tmp_path_factory.mktemp("schema") / "data",
            max_steps=2,
            max_side=64,
            max_images=1,
            job_queue_size=3,
            rate_limit_burst=100_000,
            rate_limit_per_minute=100_000,
            **database,
        )
        service.start()
        stack.callback(service.stop)  # before the database is dropped
        yield service


@pytest.fixture(scope="module")
def token(server: UvicornServer) -> str:
    created = httpx.post(f"{server.url}/v1/users", json={"id": "fuzz"}, timeout=30)
    token: str = created.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    for text in ("teal palette", "cluttered composition"):
        httpx.post(
            f"{server.url}/v1/preferences",
            headers=headers,
            json={"text": text, "polarity": "like"},
            timeout=30,
        )
    return token


@pytest.mark.slow
def test_no_server_errors_and_responses_match_the_schema(
    server: UvicornServer, token: str, tmp_path: Path
) -> None:
    """Every phase of the schemathesis runner (its own examples, the coverage of each bound,
    random fuzzing with valid and invalid data, and stateful sequences that follow the API's
    links, e.g. start an onboarding and then send, resume, finish it) against the real
    service, a bounded number of cases per operation."""
    run = subprocess.run(
        [
            sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
            "run", f"{server.url}/openapi.json",
            "--phases", "examples,coverage,fuzzing,stateful",
            "--mode", "all",
            "--max-examples", str(EXAMPLES),
            "--checks", "not_a_server_error,response_schema_conformance",
            "--header", f"Authorization: Bearer {token}",
            "--workers", "1",
            "--request-timeout", "30",
            "--seed", os.environ.get("SCHEMATHESIS_SEED", str(random.randrange(2**31))),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # where the runner keeps its cache
    )  # fmt: skip
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-8_000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅ +{phase}", report), (phase, report[-4_000:])
    generated = int(re.search(r"(\d+) generated", report).group(1))  # type: ignore[union-attr]
    metrics = httpx.get(f"{server.url}/metrics", timeout=30).text
    answered = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("tastemaker_http_requests_total{")
    )
    assert answered >= generated >= 20 * EXAMPLES  # the cases really reached the server
