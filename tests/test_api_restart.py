"""Nothing is lost when the service dies: kill -9 mid-onboarding and with generations running
and queued, start it again over the same data, and carry on. Also: with the LLM configured but
failing (the loopback server answers every call with HTTP 500), onboarding still continues.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.doubles.forker import Forker
from tests.doubles.llm_server import LoopbackLLMServer
from tests.doubles.uvicorn_server import ForkedUvicornServer, UvicornServer

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def failing_llm() -> Iterator[LoopbackLLMServer]:
    """An OpenAI-compatible server with nothing scripted: every chat call gets HTTP 500."""
    with LoopbackLLMServer() as server:
        yield server


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    failing_llm: LoopbackLLMServer,
    service_forker: Forker,
    shared_cache_dir: str,
) -> Iterator[UvicornServer]:
    server = ForkedUvicornServer(
        service_forker,
        cache_dir=shared_cache_dir,
        data_dir=tmp_path_factory.mktemp("restart") / "data",
        llm_base_url=failing_llm.base_url,
        llm_model=failing_llm.model,
        llm_api_key="loopback",
        llm_max_retries=0,
        llm_timeout_s=5,
        job_queue_size=2,
        max_jobs_per_user=10,  # this file fills the whole queue, not one person's share
        max_steps=200,
    )
    server.start()
    yield server
    server.stop()


def client(server: UvicornServer, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def wait_for(http: httpx.Client, job_id: str, *statuses: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body: dict[str, Any] = http.get(f"/v1/generations/{job_id}").json()
        if body["status"] in statuses and (body["status"] != "running" or body["progress"]["step"]):
            return body
        time.sleep(0.05)
    raise TimeoutError(f"generation {job_id} never reached {statuses}")


def test_a_failing_llm_does_not_stop_onboarding(
    service: UvicornServer, failing_llm: LoopbackLLMServer
) -> None:
    with client(service) as anonymous:
        token = anonymous.post("/v1/users", json={"id": "dora"}).json()["token"]
    with client(service, token) as http:
        session = http.post("/v1/onboarding").json()
        turn = http.post(
            f"/v1/onboarding/{session['id']}/messages",
            json={"text": "love the teal palette, but the clutter bothers me"},
        )
        assert turn.status_code == 200, turn.text
        assert "did not answer" in turn.json()["reply"]  # the reply says the fallback answered
        assert {e["text"] for e in turn.json()["extracted"]} >= {"teal palette", "clutter"}
        assert turn.json()["image"]["id"] != session["image"]["id"]
    assert failing_llm.chat_requests()  # the LLM really was asked


@pytest.mark.slow
def test_kill_mid_onboarding_and_mid_generation_loses_nothing(service: UvicornServer) -> None:
    with client(service) as anonymous:
        token = anonymous.post("/v1/users", json={"id": "erin"}).json()["token"]
    with client(service, token) as http:
        session = http.post("/v1/onboarding").json()
        comments = ["the warm golden light is lovely", "too much grainy noise, I dislike it"]
        for text in comments:
            assert http.post(f"/v1/onboarding/{session['id']}/messages", json={"text": text})
        long_job = http.post(
            "/v1/generations",
            json={"prompt": "a long one", "steps": 200, "width": 256, "height": 256,
                  "num_images": 4, "include_plain": True},
        ).json()["id"]  # fmt: skip
        wait_for(http, long_job, "running")
        queued = [
            http.post("/v1/generations", json={"prompt": f"queued {n}", "steps": 2, "width": 64,
                                               "height": 64, "seed": n})
            for n in range(2)
        ]  # fmt: skip
        assert [q.status_code for q in queued] == [202, 202]
        full = http.post("/v1/generations", json={"prompt": "one too many", "steps": 2})
        assert full.status_code == 429 and int(full.headers["Retry-After"]) >= 1
        assert "waiting" in full.json()["detail"]

    service.kill()
    service.start()

    with client(service, token) as http:
        interrupted = http.get(f"/v1/generations/{long_job}").json()
        assert interrupted["status"] == "failed" and "restarted" in interrupted["error"]
        for answer in queued:
            done = wait_for(http, answer.json()["id"], "done", "failed")
            assert done["status"] == "done", done
            assert http.get(done["image_urls"][0]).content.startswith(PNG)
        transcript = http.get(f"/v1/onboarding/{session['id']}").json()
        said = [m["text"] for m in transcript["messages"] if m["role"] == "user"]
        assert said == comments and transcript["status"] == "active"
        resumed = http.post(f"/v1/onboarding/{session['id']}/resume")
        assert resumed.status_code == 200 and resumed.json()["image"] == transcript["image"]
        turn = http.post(
            f"/v1/onboarding/{session['id']}/messages", json={"text": "nice flowing lines"}
        )
        assert turn.status_code == 200 and "flowing lines" in [
            e["text"] for e in turn.json()["extracted"]
        ]


@pytest.mark.slow
def test_a_graceful_stop_puts_the_running_generation_back_in_the_queue(
    service: UvicornServer,
) -> None:
    with client(service) as anonymous:
        token = anonymous.post("/v1/users", json={"id": "fred"}).json()["token"]
    with client(service, token) as http:
        job = http.post(
            "/v1/generations",
            json={"prompt": "stopped halfway", "steps": 120, "width": 96, "height": 96,
                  "seed": 5},
        ).json()["id"]  # fmt: skip
        wait_for(http, job, "running")

    service.stop()  # SIGTERM: uvicorn shuts down, the worker stops between two steps
    service.start()

    with client(service, token) as http:
        finished = wait_for(http, job, "done", "failed")
        assert finished["status"] == "done" and finished["error"] is None
        assert http.get(finished["image_urls"][0]).content.startswith(PNG)
        metrics = http.get("/metrics").text  # counters of the new process: it ran the job
        assert 'tastemaker_jobs_finished_total{status="done"} 1.0' in metrics
