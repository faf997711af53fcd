"""The whole journey over real HTTP against uvicorn on 127.0.0.1, as a person would take it:
create a user, onboard, inspect, edit, search, export/import, generate, give feedback. Also the
fences: another user's ids are 404 and leak nothing, no token is 401, bad input is a clear 4xx.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.doubles.forker import Forker
from tests.doubles.onboarding_http import comment_and_finish
from tests.doubles.uvicorn_server import ONBOARDING_COMMENTS as COMMENTS
from tests.doubles.uvicorn_server import ForkedUvicornServer, UvicornServer

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, service_forker: Forker, shared_cache_dir: str
) -> Iterator[UvicornServer]:
    service = ForkedUvicornServer(
        service_forker,
        cache_dir=shared_cache_dir,
        data_dir=tmp_path_factory.mktemp("journey") / "data",
        max_body_bytes=65_536,
    )
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def http(server: UvicornServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def new_user(http: httpx.Client, name: str) -> dict[str, str]:
    created = http.post("/v1/users", json={"id": name})
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['token']}"}


def onboard(http: httpx.Client, auth: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Comment on images until the agent offers to finish (at least 8), then finish."""
    started = http.post("/v1/onboarding", headers=auth)
    assert started.status_code == 201, started.text
    session = started.json()
    assert session["image"] and http.get(session["image"]["url"]).content.startswith(PNG)
    return session["id"], comment_and_finish([http], session["id"], auth)


def attributes(http: httpx.Client, auth: dict[str, str]) -> list[dict[str, Any]]:
    groups = http.get("/v1/preferences", headers=auth).json()["groups"]
    return [a for g in groups for a in g["likes"] + g["dislikes"]]


def sse_events(http: httpx.Client, url: str, auth: dict[str, str]) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    name = ""
    with http.stream("GET", url, headers=auth) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    return events


@pytest.fixture(scope="module")
def journey(http: httpx.Client) -> dict[str, Any]:
    """Alice's whole journey; the tests below read what it left."""
    alice = new_user(http, "alice")
    me = http.get("/v1/me", headers=alice).json()
    assert me == {"id": "alice", "profile_version": 0, "attribute_count": 0}
    session_id, finished = onboard(http, alice)
    generation = http.post(
        "/v1/generations",
        headers=alice,
        json={"prompt": "a lighthouse at dusk", "steps": 4, "width": 64, "height": 64,
              "seed": 7, "include_plain": True},
    )  # fmt: skip
    assert generation.status_code == 202, generation.text
    job_id = generation.json()["id"]
    events = sse_events(http, generation.json()["events_url"], alice)
    return {
        "alice": alice,
        "session_id": session_id,
        "finished": finished,
        "job_id": job_id,
        "events": events,
    }


def test_onboarding_builds_a_profile_with_likes_and_dislikes(
    http: httpx.Client, journey: dict[str, Any]
) -> None:
    alice = journey["alice"]
    assert journey["finished"]["profile_version"] >= 1
    body = http.get("/v1/preferences", headers=alice).json()
    assert body["version"] == journey["finished"]["profile_version"]
    polarities = {p for g in body["groups"] for p in ("likes", "dislikes") if g[p]}
    assert polarities == {"likes", "dislikes"}
    assert len({g["category"] for g in body["groups"]}) >= 4
    transcript = http.get(f"/v1/onboarding/{journey['session_id']}", headers=alice).json()
    assert transcript["status"] == "finished"
    assert COMMENTS[0] in [m["text"] for m in transcript["messages"] if m["role"] == "user"]


def test_edit_delete_add_and_search_each_make_a_version(
    http: httpx.Client, journey: dict[str, Any]
) -> None:
    alice = journey["alice"]
    before = http.get("/v1/preferences", headers=alice).json()["version"]
    first, second = attributes(http, alice)[:2]
    edited = http.patch(f"/v1/preferences/{first['id']}", headers=alice, json={"strength": 0.2})
    assert edited.status_code == 200 and edited.json()["strength"] == 0.2
    assert http.delete(f"/v1/preferences/{second['id']}", headers=alice).status_code == 204
    added = http.post(
        "/v1/preferences",
        headers=alice,
        json={"text": "art nouveau", "category": "style", "polarity": "like", "strength": 0.9},
    )
    assert added.status_code == 201
    texts = [a["text"] for a in attributes(http, alice)]
    assert "art nouveau" in texts and second["text"] not in texts
    assert http.get("/v1/preferences", headers=alice).json()["version"] == before + 3
    query = {"q": "the nouveau art movement"}
    hits = http.get("/v1/preferences/search", headers=alice, params=query).json()
    assert hits[0]["attribute"]["text"] == "art nouveau"
    versions = http.get("/v1/preferences/versions", headers=alice).json()
    old = http.get(f"/v1/preferences/versions/{before}", headers=alice).json()
    assert versions[-1]["version"] == before + 3
    assert second["text"] in [a["text"] for g in old["groups"] for a in g["likes"] + g["dislikes"]]


def test_export_then_import_into_another_account_copies_without_touching_the_original(
    http: httpx.Client, journey: dict[str, Any]
) -> None:
    alice = journey["alice"]
    exported = http.get("/v1/preferences/export", headers=alice).json()
    carol = new_user(http, "carol")
    imported = http.post("/v1/preferences/import", headers=carol, json=exported)
    assert imported.status_code == 200, imported.text
    mine = sorted(a["text"] for a in attributes(http, alice))
    assert sorted(a["text"] for a in attributes(http, carol)) == mine
    carols = attributes(http, carol)
    http.delete(f"/v1/preferences/{carols[0]['id']}", headers=carol)
    assert sorted(a["text"] for a in attributes(http, alice)) == mine
    again = http.post("/v1/preferences/import", headers=alice, json=exported)
    assert again.json()["version"] == exported["version"]  # identical: no new version


def test_generation_streams_progress_then_png_images_with_the_plan(
    http: httpx.Client, journey: dict[str, Any]
) -> None:
    alice, events = journey["alice"], journey["events"]
    names = [name for name, _ in events]
    assert "progress" in names and names[-1] == "done"
    steps = [data["step"] for name, data in events if name == "progress"]
    assert steps == sorted(steps) and events[-1][1]["progress"] == {"step": 8, "total": 8}
    status = http.get(f"/v1/generations/{journey['job_id']}", headers=alice).json()
    assert status["status"] == "done" and status["seed"] == 7
    used = [d for d in status["plan"]["decisions"] if d["used"]]
    assert used and status["plan"]["positive_text"]
    for url in status["image_urls"] + status["plain_image_urls"]:
        image = http.get(url, headers=alice)
        assert image.headers["content-type"] == "image/png" and image.content.startswith(PNG)
    personal = http.get(status["image_urls"][0], headers=alice).content
    assert personal != http.get(status["plain_image_urls"][0], headers=alice).content


def test_feedback_on_an_image_makes_a_new_profile_version(
    http: httpx.Client, journey: dict[str, Any]
) -> None:
    alice = journey["alice"]
    before = http.get("/v1/me", headers=alice).json()["profile_version"]
    answer = http.post(
        f"/v1/generations/{journey['job_id']}/feedback",
        headers=alice,
        json={"liked": True, "comment": "love the soft pastel colours"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["profile_version"] > before
    assert "soft pastel colours" in [e["text"] for e in answer.json()["extracted"]]
    assert "soft pastel colours" in [a["text"] for a in attributes(http, alice)]
    reasons = [v["reason"] for v in http.get("/v1/preferences/versions", headers=alice).json()]
    assert any(r.startswith("feedback") for r in reasons)


def test_another_users_ids_are_404_and_leak_nothing(
    http: httpx.Client, journey: dict[str, Any]
) -> None:
    alice = journey["alice"]
    mallory = new_user(http, "mallory")
    attribute = attributes(http, alice)[0]
    job, session = journey["job_id"], journey["session_id"]
    attempts = [
        ("PATCH", f"/v1/preferences/{attribute['id']}", {"strength": 0.1}),
        ("DELETE", f"/v1/preferences/{attribute['id']}", None),
        ("GET", f"/v1/onboarding/{session}", None),
        ("POST", f"/v1/onboarding/{session}/messages", {"text": "love it"}),
        ("POST", f"/v1/onboarding/{session}/resume", None),
        ("POST", f"/v1/onboarding/{session}/finish", None),
        ("GET", f"/v1/generations/{job}", None),
        ("GET", f"/v1/generations/{job}/events", None),
        ("GET", f"/v1/generations/{job}/images/0", None),
        ("GET", f"/v1/generations/{job}/images/0?variant=plain", None),
        ("POST", f"/v1/generations/{job}/feedback", {"liked": False, "comment": "ugly colours"}),
    ]
    for method, url, body in attempts:
        answer = http.request(method, url, headers=mallory, json=body)
        assert answer.status_code == 404, (method, url, answer.text)
        assert "lighthouse" not in answer.text and attribute["text"] not in answer.text
        assert "alice" not in answer.text
    assert attribute["text"] in [a["text"] for a in attributes(http, alice)]
    assert attributes(http, mallory) == []
    unknown = http.get("/v1/generations/0123456789abcdef", headers=mallory)
    assert (
        unknown.json()["detail"].replace("0123456789abcdef", job)
        == (http.get(f"/v1/generations/{job}", headers=mallory).json()["detail"])
    )


USER_ROUTES = [
    ("GET", "/v1/me"),
    ("GET", "/v1/preferences"),
    ("POST", "/v1/preferences"),
    ("GET", "/v1/preferences/search?q=blue"),
    ("PATCH", "/v1/preferences/abc"),
    ("DELETE", "/v1/preferences/abc"),
    ("GET", "/v1/preferences/export"),
    ("POST", "/v1/preferences/import"),
    ("GET", "/v1/preferences/versions"),
    ("GET", "/v1/preferences/versions/1"),
    ("POST", "/v1/onboarding"),
    ("POST", "/v1/onboarding/abc/messages"),
    ("POST", "/v1/onboarding/abc/finish"),
    ("GET", "/v1/onboarding/abc"),
    ("POST", "/v1/generations"),
    ("GET", "/v1/generations/abc"),
    ("GET", "/v1/generations/abc/events"),
    ("GET", "/v1/generations/abc/images/0"),
    ("POST", "/v1/generations/abc/feedback"),
]


@pytest.mark.parametrize(("method", "url"), USER_ROUTES)
def test_no_or_wrong_token_is_401(http: httpx.Client, method: str, url: str) -> None:
    for headers in ({}, {"Authorization": "Bearer tm_not-a-token"}):
        answer = http.request(method, url, headers=headers)
        assert answer.status_code == 401, (method, url, answer.text)
        assert "Bearer" in answer.json()["detail"]


def test_bad_input_gets_a_4xx_that_says_what_is_wrong(
    http: httpx.Client, journey: dict[str, Any]
) -> None:
    alice = journey["alice"]
    attribute_id = attributes(http, alice)[0]["id"]
    session = http.post("/v1/onboarding", headers=alice).json()["id"]
    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", "/v1/users", {"id": "no spaces allowed"}, 422, "id"),
        ("POST", "/v1/users", {"id": "alice"}, 409, "already exists"),
        ("POST", "/v1/preferences", {"text": "", "polarity": "like"}, 422, "text"),
        ("POST", "/v1/preferences", {"text": "x" * 200, "polarity": "like"}, 422, "text"),
        ("POST", "/v1/preferences", {"text": "teal", "polarity": "meh"}, 422, "polarity"),
        ("POST", "/v1/preferences", {"text": "teal", "polarity": "like", "strength": 5}, 422,
         "strength"),
        ("POST", "/v1/preferences", {"text": "teal", "polarity": "like", "colour": 1}, 422,
         "colour"),
        ("POST", "/v1/preferences",
         {"text": "one two three four five six seven", "polarity": "like"}, 422, "words"),
        ("PATCH", f"/v1/preferences/{attribute_id}", {"category": "smell"}, 422, "category"),
        ("GET", "/v1/preferences/search?q=", None, 422, "q"),
        ("GET", "/v1/preferences/versions/999", None, 404, "version 999"),
        ("POST", "/v1/preferences/import", {"schema": "nope"}, 422, "export"),
        ("POST", "/v1/preferences/import", [1, 2], 422, "request body"),
        ("POST", f"/v1/onboarding/{session}/messages", {"text": ""}, 422, "text"),
        ("POST", f"/v1/onboarding/{session}/messages", {"text": "\x00\x01\x02"}, 422, "empty"),
        ("POST", f"/v1/onboarding/{session}/messages", {"text": "x" * 5_000}, 422, "characters"),
        ("POST", f"/v1/onboarding/{journey['session_id']}/messages", {"text": "nice"}, 409,
         "finished"),
        ("POST", "/v1/onboarding/nosuchsession/messages", {"text": "nice"}, 404, "session"),
        ("POST", "/v1/generations", {"prompt": ""}, 422, "prompt"),
        ("POST", "/v1/generations", {"prompt": "   "}, 422, "prompt"),
        ("POST", "/v1/generations", {"prompt": "x" * 20_000}, 422, "characters"),
        ("POST", "/v1/generations", {"prompt": "a cat", "steps": 0}, 422, "steps"),
        ("POST", "/v1/generations", {"prompt": "a cat", "steps": 10_000}, 422, "steps"),
        ("POST", "/v1/generations", {"prompt": "a cat", "width": 65}, 422, "multiple of 8"),
        ("POST", "/v1/generations", {"prompt": "a cat", "width": 4096}, 422, "width"),
        ("POST", "/v1/generations", {"prompt": "a cat", "num_images": 50}, 422, "num_images"),
        ("POST", "/v1/generations", {"prompt": "a cat", "mode": "magic"}, 422, "mode"),
        ("POST", "/v1/generations", {"prompt": "a cat", "sampler": "x"}, 422, "sampler"),
        ("GET", "/v1/generations/0123456789abcdef", None, 404, "generation"),
        ("GET", f"/v1/generations/{journey['job_id']}/images/9", None, 404, "image 9"),
        ("POST", f"/v1/generations/{journey['job_id']}/feedback", {"comment": "nice"}, 422,
         "liked"),
        ("GET", "/v1/gallery/no-such-image", None, 404, "gallery"),
    ]  # fmt: skip
    for method, url, body, status, words in cases:
        answer = http.request(method, url, headers=alice, json=body)
        assert answer.status_code == status, (method, url, body, answer.text)
        assert words in answer.json()["detail"], (method, url, answer.json())
    nan = http.post(
        "/v1/generations",
        headers={**alice, "Content-Type": "application/json"},
        content=b'{"prompt": "a cat", "guidance_scale": NaN}',
    )
    assert nan.status_code == 422 and "guidance_scale" in nan.json()["detail"]
    broken = http.post(
        "/v1/preferences", headers={**alice, "Content-Type": "application/json"}, content=b"{"
    )
    assert broken.status_code == 422 and "JSON" in broken.json()["detail"]
    huge = http.post("/v1/preferences/import", headers=alice, content=b"x" * 100_000)
    assert huge.status_code == 413 and "bytes" in huge.json()["detail"]
