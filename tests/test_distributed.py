"""Scale-out with real servers: two API nodes and two Celery workers, each with its own data dir,
sharing only a fresh PostgreSQL database, Redis (a fresh database number) and a ``chroma run``
server, as machines behind a load balancer would.

A person's journey hops between the nodes at every step and never notices; an API node killed
with SIGKILL while two clients send it onboarding messages and generations loses nothing it
acknowledged (all of it is there through the other node) and serves again after a restart,
twenty times or as many as a time budget allows. Workers on other machines than the API nodes
read the liked gallery images from the shared blob store, not from a node's gallery copy.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.doubles.brokers import fresh_redis_db
from tests.doubles.chroma_server import chroma_server
from tests.doubles.cluster import Cluster, fresh_postgres_database
from tests.doubles.forker import Forker
from tests.doubles.onboarding_http import comment_and_finish
from tests.doubles.uvicorn_server import ONBOARDING_COMMENTS as COMMENTS
from tests.test_api_journey import PNG, attributes, new_user, sse_events

pytestmark = pytest.mark.slow

KILL_TRIALS = 20  # kill -9 node a this many times (the figure) ...
KILL_BUDGET_S = 75.0  # ... or as many as start within this budget,
MIN_KILL_TRIALS = 3  # but never fewer than this, however slow the machine.
REQUESTS_PER_TRIAL = 16  # per client: fewer messages than a session has images to show


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, service_forker: Forker) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("distributed")
    with (
        chroma_server(root / "chroma") as chroma_url,
        fresh_postgres_database() as database_url,
        fresh_redis_db() as redis_url,
    ):
        running = Cluster(
            root,
            service_forker,
            database_url=database_url,
            broker_url=redis_url,
            chroma_url=chroma_url,
            job_lease_s=2,
            max_jobs_per_user=50,
            job_queue_size=100,
        )
        try:
            yield running.start()
        finally:
            running.stop()


@pytest.fixture(scope="module")
def a(cluster: Cluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.a.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def b(cluster: Cluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.b.url, timeout=60) as client:
        yield client


def wait_done(http: httpx.Client, auth: dict[str, str], job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body: dict[str, Any] = http.get(f"/v1/generations/{job_id}", headers=auth).json()
        if body["status"] in ("done", "failed", "cancelled"):
            return body
        time.sleep(0.1)
    raise TimeoutError(f"generation {job_id} never ended")


@pytest.fixture(scope="module")
def onboarded(a: httpx.Client, b: httpx.Client) -> dict[str, Any]:
    """Alice signs up on node a, comments alternately through b and a, finishes on b."""
    alice = new_user(a, "alice")
    started = a.post("/v1/onboarding", headers=alice)
    assert started.status_code == 201, started.text
    session = started.json()
    assert b.get(session["image"]["url"]).content.startswith(PNG)  # each node has the gallery
    finished = comment_and_finish([a, b], session["id"], alice)  # the nodes take turns
    return {"alice": alice, "session_id": session["id"], "finished": finished}


def test_onboarding_across_nodes_builds_one_profile_both_nodes_show(
    a: httpx.Client, b: httpx.Client, onboarded: dict[str, Any]
) -> None:
    alice = onboarded["alice"]
    on_a = a.get("/v1/preferences", headers=alice).json()
    assert on_a["version"] == onboarded["finished"]["profile_version"] >= 1
    assert {p for g in on_a["groups"] for p in ("likes", "dislikes") if g[p]} == {
        "likes",
        "dislikes",
    }
    assert b.get("/v1/preferences", headers=alice).json() == on_a
    transcript = a.get(f"/v1/onboarding/{onboarded['session_id']}", headers=alice).json()
    said = [m["text"] for m in transcript["messages"] if m["role"] == "user"]
    assert transcript["status"] == "finished"
    assert COMMENTS[0] in said and COMMENTS[1] in said  # sent through b, then through a


def test_an_edit_on_one_node_shows_on_the_other_and_search_finds_it(
    a: httpx.Client, b: httpx.Client, onboarded: dict[str, Any]
) -> None:
    alice = onboarded["alice"]
    first = attributes(a, alice)[0]
    edited = b.patch(f"/v1/preferences/{first['id']}", headers=alice, json={"strength": 0.2})
    assert edited.status_code == 200, edited.text
    assert next(x for x in attributes(a, alice) if x["id"] == first["id"])["strength"] == 0.2
    added = b.post(
        "/v1/preferences",
        headers=alice,
        json={"text": "art nouveau", "category": "style", "polarity": "like", "strength": 0.9},
    )
    assert added.status_code == 201, added.text
    hits = a.get(
        "/v1/preferences/search", headers=alice, params={"q": "the nouveau art movement"}
    ).json()
    assert hits[0]["attribute"]["text"] == "art nouveau"  # b's write, in the shared Chroma


@pytest.fixture(scope="module")
def generated(a: httpx.Client, b: httpx.Client, onboarded: dict[str, Any]) -> dict[str, Any]:
    """A generation queued on node a, its events streamed from node b."""
    alice = onboarded["alice"]
    queued = a.post(
        "/v1/generations",
        headers=alice,
        json={"prompt": "a lighthouse at dusk", "steps": 4, "width": 64, "height": 64,
              "seed": 7, "include_plain": True},
    )  # fmt: skip
    assert queued.status_code == 202, queued.text
    events = sse_events(b, queued.json()["events_url"], alice)
    return {"job_id": queued.json()["id"], "events": events}


def test_a_generation_queued_on_one_node_streams_and_serves_its_png_from_the_other(
    a: httpx.Client, b: httpx.Client, onboarded: dict[str, Any], generated: dict[str, Any]
) -> None:
    alice, events = onboarded["alice"], generated["events"]
    names = [name for name, _ in events]
    assert "progress" in names and names[-1] == "done", names
    steps = [data["step"] for name, data in events if name == "progress"]
    assert steps == sorted(steps) and len(set(steps) - {0}) >= 2, steps  # live, from a worker
    assert events[-1][1]["progress"] == {"step": 8, "total": 8}
    status = b.get(f"/v1/generations/{generated['job_id']}", headers=alice).json()
    assert status["status"] == "done"
    used = {d["text"] for d in status["plan"]["decisions"] if d["used"]}
    assert used & {x["text"] for x in attributes(a, alice)}  # the worker read alice's profile
    urls = status["image_urls"] + status["plain_image_urls"]
    images = [b.get(url, headers=alice) for url in urls]
    for image in images:
        assert image.headers["content-type"] == "image/png" and image.content.startswith(PNG)
    assert images[0].content != images[1].content  # personalised differs from plain
    assert a.get(status["image_urls"][0], headers=alice).content == images[0].content


@pytest.fixture(scope="module")
def liked(
    a: httpx.Client, b: httpx.Client, onboarded: dict[str, Any], generated: dict[str, Any]
) -> dict[str, Any]:
    """Alice likes the generation on node a, saying why."""
    alice = onboarded["alice"]
    before = b.get("/v1/me", headers=alice).json()["profile_version"]
    answer = a.post(
        f"/v1/generations/{generated['job_id']}/feedback",
        headers=alice,
        json={"liked": True, "comment": "love the soft pastel colours"},
    )
    assert answer.status_code == 200, answer.text
    return {"before": before, "answer": answer.json()}


def test_feedback_given_on_one_node_changes_the_profile_seen_on_the_other(
    b: httpx.Client, onboarded: dict[str, Any], liked: dict[str, Any]
) -> None:
    alice = onboarded["alice"]
    version = liked["answer"]["profile_version"]
    assert version > liked["before"]
    assert b.get("/v1/me", headers=alice).json()["profile_version"] == version
    assert "soft pastel colours" in [x["text"] for x in attributes(b, alice)]


def test_generations_after_liking_one_are_still_personalised_by_the_liked_images(
    a: httpx.Client, b: httpx.Client, onboarded: dict[str, Any], liked: dict[str, Any]
) -> None:
    """The workers read the new profile version's liked images (gallery images the API nodes
    saw, the generation liked on node a) for its aesthetic embedding and for PALP."""
    alice = onboarded["alice"]
    body = {"prompt": "a lighthouse at dusk", "steps": 2, "width": 64, "height": 64}
    aesthetic = wait_done(
        a, alice, b.post("/v1/generations", headers=alice, json=body).json()["id"]
    )
    assert (
        aesthetic["status"] == "done"
        and aesthetic["profile_version"] == (liked["answer"]["profile_version"])
    )
    assert aesthetic["aesthetic"]["applied"], aesthetic["aesthetic"]
    palp = b.post("/v1/generations", headers=alice, json={**body, "mode": "palp", "palp_steps": 2})
    assert palp.status_code == 202, palp.text
    ended = wait_done(a, alice, palp.json()["id"])
    assert ended["status"] == "done", ended.get("error")
    assert a.get(ended["image_urls"][0], headers=alice).content.startswith(PNG)


def test_a_style_trained_from_liked_images_on_a_worker_is_listed_on_both_nodes(
    a: httpx.Client, b: httpx.Client, onboarded: dict[str, Any], liked: dict[str, Any]
) -> None:
    alice = onboarded["alice"]
    accepted = a.post("/v1/styles", headers=alice, json={"steps": 6, "lr": 0.05})
    assert accepted.status_code == 202, accepted.text
    ended = wait_done(b, alice, accepted.json()["id"])
    assert ended["status"] == "done", ended.get("error")
    (token,) = b.get("/v1/styles", headers=alice).json()
    assert a.get("/v1/styles", headers=alice).json() == [token]
    assert token["steps"] >= 1


@contextmanager
def on_other_machines(*folders: Path) -> Iterator[None]:
    """Hide ``folders`` for a while, as if the processes that wrote them ran elsewhere."""
    hidden = [folder.with_name(f".{folder.name}-elsewhere") for folder in folders]
    for folder, away in zip(folders, hidden, strict=True):
        folder.rename(away)
    try:
        yield
    finally:
        for folder, away in zip(folders, hidden, strict=True):
            away.rename(folder)


def test_workers_on_other_machines_than_the_api_nodes_still_read_the_liked_images(
    cluster: Cluster, a: httpx.Client, b: httpx.Client, onboarded: dict[str, Any]
) -> None:
    alice = onboarded["alice"]
    galleries = [node.data_dir / "gallery_cache" for node in (cluster.a, cluster.b)]
    with on_other_machines(*galleries):
        first = attributes(a, alice)[0]
        edited = b.patch(f"/v1/preferences/{first['id']}", headers=alice, json={"strength": 0.3})
        assert edited.status_code == 200, edited.text  # a new version: a new embedding
        body = {"prompt": "a harbour at noon", "steps": 2, "width": 64, "height": 64}
        queued = a.post("/v1/generations", headers=alice, json=body)
        styled = a.post("/v1/styles", headers=alice, json={"steps": 2, "lr": 0.05})
        generation = wait_done(b, alice, queued.json()["id"])
        training = wait_done(b, alice, styled.json()["id"])
    assert (generation["aesthetic"]["applied"], training["status"]) == (True, "done"), (
        generation["aesthetic"]["note"],
        training.get("error"),
    )


def test_a_profile_exported_from_one_node_imports_on_the_other(
    a: httpx.Client, b: httpx.Client, onboarded: dict[str, Any]
) -> None:
    alice = onboarded["alice"]
    exported = b.get("/v1/preferences/export", headers=alice)
    assert exported.status_code == 200, exported.text
    carol = new_user(b, "carol")
    imported = a.post("/v1/preferences/import", headers=carol, json=exported.json())
    assert imported.status_code == 200, imported.text
    assert sorted(x["text"] for x in attributes(b, carol)) == sorted(
        x["text"] for x in attributes(a, alice)
    )
    hits = b.get("/v1/preferences/search", headers=carol, params={"q": "art nouveau"}).json()
    assert hits and hits[0]["attribute"]["text"] == "art nouveau"


class Client(threading.Thread):
    """Sends requests to one node until it stops answering; keeps what was acknowledged."""

    def __init__(self, url: str, auth: dict[str, str], send: str, session_id: str) -> None:
        super().__init__(daemon=True)
        self.url, self.auth, self.send, self.session_id = url, auth, send, session_id
        self.acknowledged: list[str] = []
        self.refused: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers=self.auth, timeout=60) as http:
            for n in range(REQUESTS_PER_TRIAL):
                try:
                    self.acknowledged.append(self._one(http, n))
                except httpx.TransportError:
                    return  # the node is gone
                except AssertionError as refused:
                    self.refused.append(str(refused))
                    return

    def _one(self, http: httpx.Client, n: int) -> str:
        if self.send == "messages":
            time.sleep(0.05)  # typing
            text = f"{COMMENTS[n % len(COMMENTS)]} ({self.session_id} #{n})"
            answer = http.post(f"/v1/onboarding/{self.session_id}/messages", json={"text": text})
            assert answer.status_code == 200, answer.text
            return text
        time.sleep(0.2)  # a person's pace: a few generations per trial, not dozens
        body = {"prompt": f"a quick sketch {n}", "steps": 2, "width": 64, "height": 64}
        answer = http.post("/v1/generations", json=body)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])


def kill_trial(
    cluster: Cluster, b: httpx.Client, auth: dict[str, str], rng: random.Random
) -> tuple[int, int, int]:
    """Clients on node a; a dies by SIGKILL after a few answers; node b has all of them."""
    session_id = b.post("/v1/onboarding", headers=auth).json()["id"]
    clients = [Client(cluster.a.url, auth, send, session_id) for send in ("messages", "jobs")]
    for client in clients:
        client.start()
    wanted = rng.randint(2, 6)
    while sum(len(c.acknowledged) for c in clients) < wanted or not all(
        c.acknowledged for c in clients
    ):
        assert not any(c.refused for c in clients), [c.refused for c in clients]
        assert any(c.is_alive() for c in clients), "both clients stopped before the kill"
        time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.3))  # land the kill mid-request, or between two
    sending = sum(c.is_alive() for c in clients)
    cluster.a.kill()
    for client in clients:
        client.join(timeout=60)
        assert not client.refused, client.refused
    messages, jobs = (c.acknowledged for c in clients)

    transcript = b.get(f"/v1/onboarding/{session_id}", headers=auth).json()
    said = [m["text"] for m in transcript["messages"] if m["role"] == "user"]
    assert set(messages) <= set(said), (messages, said)
    for job_id in jobs:
        ended = wait_done(b, auth, job_id)
        assert ended["status"] == "done", ended
        assert b.get(ended["image_urls"][0], headers=auth).content.startswith(PNG)
    goes_on = b.post(
        f"/v1/onboarding/{session_id}/messages", headers=auth, json={"text": COMMENTS[-1]}
    )
    assert goes_on.status_code == 200, goes_on.text  # the session survives its node

    cluster.a.start()
    again = httpx.get(f"{cluster.a.url}/v1/onboarding/{session_id}", headers=auth, timeout=60)
    assert again.status_code == 200, again.text
    assert COMMENTS[-1] in [m["text"] for m in again.json()["messages"]]
    return len(messages), len(jobs), sending


def test_kill_9_an_api_node_loses_nothing_it_acknowledged_and_it_serves_again(
    cluster: Cluster, b: httpx.Client
) -> None:
    auth = new_user(b, "kim")
    rng = random.Random(11)
    started = time.monotonic()
    acknowledged: list[tuple[int, int, int]] = []
    while len(acknowledged) < KILL_TRIALS and (
        len(acknowledged) < MIN_KILL_TRIALS or time.monotonic() - started < KILL_BUDGET_S
    ):
        acknowledged.append(kill_trial(cluster, b, auth, rng))
    print(
        f"\n{len(acknowledged)} kill -9 trials in {time.monotonic() - started:.0f} s; "
        f"(messages, generations acknowledged; clients still sending at the kill) per trial: "
        f"{acknowledged}"
    )
    assert len(acknowledged) >= MIN_KILL_TRIALS
    assert any(sending == 2 for *_, sending in acknowledged)  # killed under load, not idle
