"""Property-based: schemathesis generates requests from ``/openapi.json`` (valid and invalid)
and sends them to the real service; none may get a 5xx or a response that breaks the schema.

The server runs with tight generation bounds so the valid generations it queues stay tiny.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.doubles.uvicorn_server import UvicornServer

EXAMPLES = 15


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornServer]:
    service = UvicornServer(
        tmp_path_factory.mktemp("schema") / "data",
        max_steps=2,
        max_side=64,
        max_images=1,
        job_queue_size=3,
        rate_limit_burst=100_000,
        rate_limit_per_minute=100_000,
    )
    service.start()
    yield service
    service.stop()


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


def test_no_server_errors_and_responses_match_the_schema(server: UvicornServer, token: str) -> None:
    """Each operation, valid and invalid inputs, a few dozen cases each."""
    api = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    checks = [not_a_server_error, response_schema_conformance]
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(
                    base_url=server.url, headers=headers, checks=checks, timeout=30
                )

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to break: no parameters
    metrics = httpx.get(f"{server.url}/metrics", timeout=30).text
    answered = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("tastemaker_http_requests_total{")
    )
    assert answered >= len(operations) * EXAMPLES  # the cases really reached the server
