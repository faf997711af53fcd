"""What the schema says is what the service does (issue 25, item 9): numbers are JSON numbers,
an undecodable body is the 422 every bad body is, 405 names every method of the path, the
schema states the bounds the server checks, and a server error is a JSON problem on a
connection that stays open (a real uvicorn and a database table that went missing)."""

from __future__ import annotations

import http.client
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from preference_store.styles import MAX_TRAINING_STEPS
from tests.doubles.forker import Forker
from tests.doubles.uvicorn_server import ForkedUvicornServer, UvicornServer


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("truths") / "data")
    with TestClient(create_app(settings)) as client:
        yield client


def new_user(client: TestClient, name: str) -> dict[str, str]:
    made = client.post("/v1/users", json={"id": name})
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['token']}"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/generations", {"prompt": "a cat", "steps": True}, "steps"),
        ("/v1/generations", {"prompt": "a cat", "guidance_scale": False}, "guidance_scale"),
        ("/v1/generations", {"prompt": "a cat", "width": "64"}, "width"),
        ("/v1/preferences", {"text": "teal", "polarity": "like", "strength": True}, "strength"),
        ("/v1/styles", {"steps": True}, "steps"),
    ],
)
def test_booleans_and_strings_are_not_numbers(
    client: TestClient, path: str, body: dict[str, object], field: str
) -> None:
    headers = new_user(client, f"n{abs(hash((path, field))) % 10**8}")
    answer = client.post(path, headers=headers, json=body)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["detail"]
    fine = client.post(
        "/v1/preferences", headers=headers, json={"text": "gold", "polarity": "like", "strength": 1}
    )
    assert fine.status_code == 201, fine.text  # an integer is still a number


def test_a_body_that_is_not_utf8_is_a_422_problem(client: TestClient) -> None:
    headers = new_user(client, "latin")
    answer = client.post(
        "/v1/preferences",
        headers={**headers, "Content-Type": "application/json"},
        content='{"text": "caf\u00e9", "polarity": "like"}'.encode("latin-1"),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json() == {"detail": "request body: is not valid JSON (UTF-8)"}


def test_405_names_every_method_the_path_serves(client: TestClient) -> None:
    answer = client.put("/v1/preferences")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert answer.json() == {"detail": "Method Not Allowed"}


def test_the_schema_states_style_and_palp_limits(client: TestClient) -> None:
    parts = client.get("/openapi.json").json()["components"]["schemas"]
    steps = parts["StyleCreate"]["properties"]["steps"]
    assert (steps["minimum"], steps["maximum"]) == (1, MAX_TRAINING_STEPS)
    vectors = parts["StyleCreate"]["properties"]["vectors"]
    assert (vectors["minimum"], vectors["maximum"]) == (1, 8)
    alpha = parts["GenerationCreate"]["properties"]["palp_alpha"]
    assert "greater than palp_beta" in alpha["description"]
    too_many = client.post("/v1/styles", headers=new_user(client, "steps"), json={"steps": 10_001})
    assert too_many.status_code == 422 and "steps" in too_many.json()["detail"]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, service_forker: Forker, shared_cache_dir: str
) -> Iterator[UvicornServer]:
    service = ForkedUvicornServer(
        service_forker,
        cache_dir=shared_cache_dir,
        data_dir=tmp_path_factory.mktemp("errors") / "data",
    )
    service.start()
    yield service
    service.stop()


def test_a_server_error_is_a_json_problem_and_the_connection_stays_open(
    server: UvicornServer,
) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request(
        "POST",
        "/v1/users",
        body=json.dumps({"id": "eve"}),
        headers={"Content-Type": "application/json"},
    )
    token = json.loads(connection.getresponse().read())["token"]
    with sqlite3.connect(Path(server.data_dir) / "tastemaker.db") as database:
        database.execute("DROP TABLE profile_versions")  # the fault: a table went missing
    connection.request("GET", "/v1/preferences", headers={"Authorization": f"Bearer {token}"})
    failed = connection.getresponse()
    body = failed.read()
    assert failed.status == 500
    assert failed.getheader("content-type") == "application/json"
    assert json.loads(body)["detail"].startswith("the server failed to answer this request")
    connection.request("GET", "/healthz")  # the same connection
    assert connection.getresponse().status == 200
